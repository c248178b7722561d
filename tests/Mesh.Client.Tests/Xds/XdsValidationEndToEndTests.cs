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
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Mesh.Tests;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Client.Tests.Xds;

/// <summary>Validation end to end: a real channel, real Kestrel backends and a fake ADS server that sends a bad update.</summary>
public sealed class XdsValidationEndToEndTests
{
    private const string ListenerName = "greeter.example:50051";
    private const string ClusterName = "greeter-cluster";

    [Fact]
    public async Task EdsClusterWithoutEdsClusterConfig_IsNackedAndTrafficStaysOnThePreviousCluster()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        await using var server = await FakeAdsServer.StartAsync();
        var resources = new Dictionary<string, IMessage>
        {
            [ListenerName] = Listener(),
            [ClusterName] = Cluster("eds-a"),
            ["eds-a"] = Endpoints("eds-a", backends.Ports["a"]),
            ["eds-b"] = Endpoints("eds-b", backends.Ports["b"]),

            // Were the bad cluster accepted, its EDS name would be its own name: backend b.
            [ClusterName + "/eds"] = Endpoints(ClusterName, backends.Ports["b"]),
        };
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(server.Address, "validation-e2e"));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///" + ListenerName, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var firstCall = client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync;
        var stream = await server.NextStreamAsync(TimeSpan.FromSeconds(10));
        var serving = ServeAsync(stream, resources, cts.Token);
        Assert.Equal("a", (await firstCall).Backend);

        var bad = Cluster("eds-b");
        bad.EdsClusterConfig = null;
        var response = await stream.SendAsync(XdsTypeUrls.Cluster, "2", bad);
        var nack = await WaitForAsync(() => stream.Requests.FirstOrDefault(r => r.ResponseNonce == response.Nonce));

        Assert.NotNull(nack.ErrorDetail);
        Assert.Contains($"'{ClusterName}': eds_cluster_config: is required", nack.ErrorDetail.Message, StringComparison.Ordinal);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("a", (await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10))).Backend);
        }

        Assert.DoesNotContain(stream.Requests, r => r.TypeUrl == XdsTypeUrls.ClusterLoadAssignment && r.ResourceNames.Contains(ClusterName));
        var status = provider.GetRequiredService<MeshClientStatus>().GetClientConfig().GenericXdsConfigs.Single(c => c.Name == ClusterName);
        Assert.Equal(Envoy.Admin.V3.ClientResourceStatus.Nacked, status.ClientStatus);
        await cts.CancelAsync();
        await serving;
    }

    /// <summary>Answers every new subscription with the named resources it has (ACKs and NACKs are only recorded).</summary>
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
            var found = request.ResourceNames
                .Select(n => resources.TryGetValue(request.TypeUrl == XdsTypeUrls.ClusterLoadAssignment && n == ClusterName ? n + "/eds" : n, out var r) ? r : null)
                .OfType<IMessage>()
                .ToArray();
            await stream.SendAsync(request.TypeUrl, "1", found);
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } value)
            {
                return value;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("the condition never held");
    }

    private static Listener Listener()
    {
        var hcm = new Hcm.HttpConnectionManager
        {
            RouteConfig = new RouteConfiguration
            {
                Name = "inline",
                VirtualHosts =
                {
                    new VirtualHost
                    {
                        Name = "greeter",
                        Domains = { "*" },
                        Routes = { new Route { Match = new RouteMatch { Prefix = "" }, Route_ = new RouteAction { Cluster = ClusterName } } },
                    },
                },
            },
            HttpFilters = { new Hcm.HttpFilter { Name = "router", TypedConfig = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router()) } },
        };
        return new Listener { Name = ListenerName, ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } };
    }

    private static Cluster Cluster(string edsName) => new()
    {
        Name = ClusterName,
        Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
        EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig { EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource() }, ServiceName = edsName },
    };

    private static ClusterLoadAssignment Endpoints(string name, int port) => new()
    {
        ClusterName = name,
        Endpoints =
        {
            new LocalityLbEndpoints
            {
                Locality = new Locality { Zone = "z" },
                LoadBalancingWeight = 1,
                LbEndpoints = { new LbEndpoint { Endpoint = new Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = "127.0.0.1", PortValue = (uint)port } } } } },
            },
        },
    };
}
