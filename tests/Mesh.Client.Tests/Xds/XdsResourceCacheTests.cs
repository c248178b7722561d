using System.Diagnostics;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Service.Discovery.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Bootstrap;
using Mesh.Client.Internal;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Client.Xds;
using Mesh.Testing;
using Mesh.Tests;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Client.Tests.Xds;

/// <summary>The persisted last-good configuration (issue 18): file format, trust checks, and serving it at start.</summary>
public sealed class XdsResourceCacheTests : IDisposable
{
    private const string ListenerName = "greeter.example:50051";
    private const string ClusterName = "greeter-cluster";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "mesh-xds-cache-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static XdsBootstrap Bootstrap(string node = "cache-test", string server = "127.0.0.1:1") =>
        XdsBootstrap.Parse($$$"""{"xds_servers": [{"server_uri": "{{{server}}}", "channel_creds": [{"type": "insecure"}]}], "node": {"id": "{{{node}}}"}}""", "test");

    private XdsResourceCache Cache(string node = "cache-test") => new(_directory, Bootstrap(node), TimeProvider.System, NullLogger.Instance);

    [Fact]
    public void Save_ThenLoad_RoundTripsEveryResourceWithVersionAndTime()
    {
        var listener = Any.Pack(new Listener { Name = "l", StatPrefix = "x" });
        Cache().Save(XdsTypeUrls.Listener, "v7", [("l", listener)]);

        var loaded = Cache().Load();

        var type = loaded[XdsTypeUrls.Listener];
        Assert.Equal(("v7", listener), (type.Version, type.Resources["l"]));
        Assert.InRange(type.SavedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(["listeners.xdscache"], Directory.GetFiles(_directory).Select(Path.GetFileName));
    }

    [Fact]
    public void Load_CorruptTruncatedForeignOrAlienFiles_AreIgnoredSayingWhy()
    {
        var cache = Cache();
        cache.Save(XdsTypeUrls.Listener, "1", [("l", Any.Pack(new Listener { Name = "l" }))]);
        cache.Save(XdsTypeUrls.Cluster, "1", [("c", Any.Pack(new Cluster { Name = "c" }))]);
        cache.Save(XdsTypeUrls.RouteConfiguration, "1", [("r", Any.Pack(new RouteConfiguration { Name = "r" }))]);
        var flipped = File.ReadAllBytes(cache.PathOf(XdsTypeUrls.Listener));
        flipped[flipped.Length / 2] ^= 0x40;
        File.WriteAllBytes(cache.PathOf(XdsTypeUrls.Listener), flipped);
        var truncated = File.ReadAllBytes(cache.PathOf(XdsTypeUrls.Cluster));
        File.WriteAllBytes(cache.PathOf(XdsTypeUrls.Cluster), truncated[..(truncated.Length - 10)]);
        File.WriteAllText(cache.PathOf(XdsTypeUrls.ClusterLoadAssignment), "not a cache file at all, just text");
        Cache("another-node").Save(XdsTypeUrls.RouteConfiguration, "1", [("r", Any.Pack(new RouteConfiguration { Name = "r" }))]);

        var reader = Cache();
        var loaded = reader.Load();

        Assert.Empty(loaded);
        Assert.Equal(4, reader.Problems.Count);
        Assert.Contains(reader.Problems, p => p.Contains("listeners.xdscache: corrupt: the checksum does not match", StringComparison.Ordinal));
        Assert.Contains(reader.Problems, p => p.Contains("clusters.xdscache: corrupt", StringComparison.Ordinal));
        Assert.Contains(reader.Problems, p => p.Contains("endpoints.xdscache: corrupt: not a Mesh xDS cache file", StringComparison.Ordinal));
        Assert.Contains(reader.Problems, p => p.Contains("routes.xdscache: written for another node or bootstrap (node 'another-node'", StringComparison.Ordinal));
    }

    [Fact]
    public void Save_ReplacesTheFileAtomically_LeavingNoTemporaryFiles()
    {
        var cache = Cache();
        for (var i = 0; i < 5; i++)
        {
            cache.Save(XdsTypeUrls.Listener, i.ToString(System.Globalization.CultureInfo.InvariantCulture), [("l", Any.Pack(new Listener { Name = "l" }))]);
        }

        Assert.Equal("4", Cache().Load()[XdsTypeUrls.Listener].Version);
        Assert.Single(Directory.GetFiles(_directory));
    }

    [Fact]
    public async Task XdsClient_CorruptCacheAndServerDown_StartsEmptyAndSaysWhy()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllBytes(Path.Combine(_directory, "listeners.xdscache"), [1, 2, 3, 4]);
        var logs = new InMemoryLogSink();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var client = new XdsClient(Bootstrap(), TimeProvider.System, loggers, _directory);
        var watcher = new RecordingWatcher(new CallbackGate());

        using var watch = client.Watch(TestTypes.ListenerType, "l", watcher);
        var error = await watcher.NextAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(WatchEventKind.AmbientError, error.Kind);
        var status = client.GetStatus();
        Assert.Null(status.Connection.ServingCachedSince);
        Assert.Contains(status.Connection.CacheProblems, p => p.Contains("corrupt: not a Mesh xDS cache file", StringComparison.Ordinal));
        Assert.Contains(logs.MessagesAtLeast(LogLevel.Warning), m => m.Contains("has nothing usable; starting empty", StringComparison.Ordinal) && m.Contains("corrupt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CachedConfig_ControlPlaneDown_ServesWithin1sAndSwitchesToLiveWhenItReturns()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        int port;

        // An earlier run: live configuration, persisted.
        await using (var first = await FakeAdsServer.StartAsync())
        {
            port = first.Address.Port;
            await using var provider = Provider(first.Address);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            using var channel = Channel(provider);
            var call = new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync;
            var serving = ServeAsync(await first.NextStreamAsync(TimeSpan.FromSeconds(10)), Resources(backends.Ports["a"]), cts.Token);
            Assert.Equal("a", (await call).Backend);
            await WaitUntilAsync(() => File.Exists(Path.Combine(_directory, "endpoints.xdscache")) && File.Exists(Path.Combine(_directory, "clusters.xdscache")));
            await cts.CancelAsync();
            await serving;
        }

        // This run: the control plane is down. The cache serves, within a second.
        var address = new Uri($"http://127.0.0.1:{port}");
        await using var restarted = Provider(address);
        using var restartedChannel = Channel(restarted);
        var client = new Greeter.GreeterClient(restartedChannel);
        var clock = Stopwatch.StartNew();
        var reply = await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
        clock.Stop();

        Assert.Equal("a", reply.Backend);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the first call took {clock.Elapsed}");
        var xds = restarted.GetRequiredService<XdsClientProvider>().Client;
        Assert.NotNull(xds.GetStatus().Connection.ServingCachedSince);
        var csds = restarted.GetRequiredService<MeshClientStatus>().GetClientConfig();
        Assert.Contains(csds.GenericXdsConfigs, c => c.Name == ClusterName && c.ErrorState?.Details.Contains("served from the local xDS cache", StringComparison.Ordinal) == true);

        // The control plane returns (with the endpoints moved to b): the client goes live.
        await using var second = await FakeAdsServer.StartAsync(port);
        using var liveCts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var live = ServeAsync(await second.NextStreamAsync(TimeSpan.FromSeconds(30)), Resources(backends.Ports["b"]), liveCts.Token);
        await WaitUntilAsync(async () => (await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5))).Backend == "b");
        Assert.Null(xds.GetStatus().Connection.ServingCachedSince);
        Assert.Null(xds.GetStatus().Find(XdsTypeUrls.ClusterLoadAssignment, "eds-a")!.CachedSavedAt);
        await liveCts.CancelAsync();
        await live;
    }

    private ServiceProvider Provider(Uri xds)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o =>
        {
            o.BootstrapJson = MeshYaml.Bootstrap(xds, "cache-e2e");
            o.CacheDirectory = _directory;
        });
        return services.BuildServiceProvider();
    }

    private static GrpcChannel Channel(IServiceProvider provider) =>
        GrpcChannel.ForAddress("xds:///" + ListenerName, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });

    private static async Task WaitUntilAsync(Func<bool> condition) => await WaitUntilAsync(() => Task.FromResult(condition()));

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the condition never held");
    }

    /// <summary>Answers every new subscription with the named resources it has.</summary>
    private static async Task ServeAsync(FakeAdsStream stream, Dictionary<string, IMessage> resources, CancellationToken cancellationToken)
    {
        var subscribed = new Dictionary<string, string>(StringComparer.Ordinal);
        while (!cancellationToken.IsCancellationRequested)
        {
            DiscoveryRequest request;
            try
            {
                request = await stream.NextRequestAsync(TimeSpan.FromSeconds(1));
            }
            catch (TimeoutException)
            {
                continue;
            }

            var names = string.Join(",", request.ResourceNames.Order(StringComparer.Ordinal));
            if (subscribed.TryGetValue(request.TypeUrl, out var previous) && previous == names)
            {
                continue;
            }

            subscribed[request.TypeUrl] = names;
            await stream.SendAsync(request.TypeUrl, "v-" + names.Length, request.ResourceNames.Select(n => resources.GetValueOrDefault(n)).OfType<IMessage>().ToArray());
        }
    }

    private static Dictionary<string, IMessage> Resources(int port)
    {
        var hcm = new Hcm.HttpConnectionManager
        {
            RouteConfig = new RouteConfiguration
            {
                Name = "inline",
                VirtualHosts = { new VirtualHost { Name = "greeter", Domains = { "*" }, Routes = { new Route { Match = new RouteMatch { Prefix = "" }, Route_ = new RouteAction { Cluster = ClusterName } } } } },
            },
            HttpFilters = { new Hcm.HttpFilter { Name = "router", TypedConfig = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router()) } },
        };
        return new Dictionary<string, IMessage>
        {
            [ListenerName] = new Listener { Name = ListenerName, ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } },
            [ClusterName] = new Cluster
            {
                Name = ClusterName,
                Type = Cluster.Types.DiscoveryType.Eds,
                EdsClusterConfig = new Cluster.Types.EdsClusterConfig { EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource() }, ServiceName = "eds-a" },
            },
            ["eds-a"] = new ClusterLoadAssignment
            {
                ClusterName = "eds-a",
                Endpoints =
                {
                    new LocalityLbEndpoints
                    {
                        Locality = new Locality { Zone = "z" },
                        LoadBalancingWeight = 1,
                        LbEndpoints = { new LbEndpoint { Endpoint = new Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = "127.0.0.1", PortValue = (uint)port } } } } },
                    },
                },
            },
        };
    }
}
