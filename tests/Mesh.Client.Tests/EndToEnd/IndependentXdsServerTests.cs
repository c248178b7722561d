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
using Mesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// Mesh.Client against an xDS server that is not Mesh.ControlPlane: a minimal state-of-the-world server written here
/// from the official resource shapes, serving hand-built resources. It uses an inline route configuration, a cluster
/// whose EDS service name differs from its name, and two localities weighted 3:1.
/// </summary>
public sealed class IndependentXdsServerTests
{
    private const string ListenerName = "greeter.example:50051";

    [Fact]
    public async Task StaticXdsServer_HandBuiltResources_ClientRoutesByLocalityWeight()
    {
        await using var backends = await GreeterBackends.StartAsync("east", "west");
        var resources = new Dictionary<string, Dictionary<string, IMessage>>
        {
            ["type.googleapis.com/envoy.config.listener.v3.Listener"] = new() { [ListenerName] = Listener() },
            ["type.googleapis.com/envoy.config.cluster.v3.Cluster"] = new() { ["greeter-cluster"] = Cluster() },
            ["type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"] = new() { ["greeter-eds"] = Endpoints(backends) },
        };
        await using var server = await StaticXdsServer.StartAsync(resources);
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(server.Address, "independent-test"));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///" + ListenerName, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel);

        var seen = new Dictionary<string, int>();
        for (var i = 0; i < 2000; i++)
        {
            var reply = await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            seen[reply.Backend] = seen.GetValueOrDefault(reply.Backend) + 1;
        }

        Assert.InRange(seen.GetValueOrDefault("east"), 1440, 1560); // locality weight 3 of 4: 75 % ± 3 points
        Assert.InRange(seen.GetValueOrDefault("west"), 440, 560);
        Assert.All(server.Requests.Where(r => r.ErrorDetail is not null), r => Assert.Fail($"NACK: {r.ErrorDetail.Message}"));
    }

    [Fact]
    public async Task StaticXdsServer_UnsupportedCluster_IsNackedAndShownInClientStatus()
    {
        await using var backends = await GreeterBackends.StartAsync("east", "west");
        var cluster = Cluster();
        cluster.LbPolicy = Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.Maglev;
        var resources = new Dictionary<string, Dictionary<string, IMessage>>
        {
            ["type.googleapis.com/envoy.config.listener.v3.Listener"] = new() { [ListenerName] = Listener() },
            ["type.googleapis.com/envoy.config.cluster.v3.Cluster"] = new() { ["greeter-cluster"] = cluster },
            ["type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"] = new() { ["greeter-eds"] = Endpoints(backends) },
        };
        await using var server = await StaticXdsServer.StartAsync(resources);
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(server.Address, "nack-test"));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///" + ListenerName, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var call = new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(3)).ResponseAsync;

        var nack = await WaitForAsync(() => server.Requests.FirstOrDefault(r => r.ErrorDetail is not null));
        var status = provider.GetRequiredService<MeshClientStatus>().GetClientConfig();
        var clusterStatus = status.GenericXdsConfigs.Single(c => c.Name == "greeter-cluster");

        Assert.Contains("greeter-cluster", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Contains("lb_policy", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Equal(Envoy.Admin.V3.ClientResourceStatus.Nacked, clusterStatus.ClientStatus);
        Assert.Contains("lb_policy", clusterStatus.ErrorState.Details, StringComparison.Ordinal);
        Assert.Equal(Envoy.Admin.V3.ClientResourceStatus.Acked, status.GenericXdsConfigs.Single(c => c.Name == ListenerName).ClientStatus);
        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Contains(error.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });
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

    [Fact]
    public async Task GrpcTimeoutHeaderMax_WinsOverMaxStreamDuration_OnABareChannel()
    {
        await using var backends = await GreeterBackends.StartAsync("east", "west");
        var action = new RouteAction
        {
            Cluster = "greeter-cluster",
            MaxStreamDuration = new RouteAction.Types.MaxStreamDuration
            {
                MaxStreamDuration_ = Duration.FromTimeSpan(TimeSpan.FromSeconds(2)),
                GrpcTimeoutHeaderMax = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)),
            },
        };
        var resources = new Dictionary<string, Dictionary<string, IMessage>>
        {
            ["type.googleapis.com/envoy.config.listener.v3.Listener"] = new() { [ListenerName] = Listener(action) },
            ["type.googleapis.com/envoy.config.cluster.v3.Cluster"] = new() { ["greeter-cluster"] = Cluster() },
            ["type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"] = new() { ["greeter-eds"] = Endpoints(backends) },
        };
        await using var server = await StaticXdsServer.StartAsync(resources);
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(server.Address, "independent-timeout-test"));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///" + ListenerName, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel);
        for (var i = 0; i < 20; i++) // warm-up: configuration and a connection, each attempt within the 200 ms route timeout
        {
            try
            {
                await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
                break;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded)
            {
            }
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloSlowlyAsync(new HelloRequest { DelayMs = 1000 }, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.InRange(watch.ElapsedMilliseconds, 180, 600); // 200 ms (grpc_timeout_header_max), not 2 s
    }

    private static Listener Listener(RouteAction? action = null)
    {
        var routes = new RouteConfiguration
        {
            Name = "inline",
            VirtualHosts =
            {
                new VirtualHost
                {
                    Name = "greeter",
                    Domains = { "greeter.example", "greeter.example:*", ListenerName },
                    Routes = { new Route { Match = new RouteMatch { Prefix = "" }, Route_ = action ?? new RouteAction { Cluster = "greeter-cluster" } } },
                },
            },
        };
        var hcm = new Hcm.HttpConnectionManager
        {
            RouteConfig = routes,
            HttpFilters = { new Hcm.HttpFilter { Name = "router", TypedConfig = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router()) } },
        };
        return new Listener { Name = ListenerName, ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } };
    }

    private static Cluster Cluster() => new()
    {
        Name = "greeter-cluster",
        Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
        EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig
        {
            EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource() },
            ServiceName = "greeter-eds",
        },
        LbPolicy = Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.RoundRobin,
    };

    private static ClusterLoadAssignment Endpoints(GreeterBackends backends)
    {
        LocalityLbEndpoints Locality(string zone, string backend, uint weight) => new()
        {
            Locality = new Locality { Region = "test", Zone = zone },
            LoadBalancingWeight = weight,
            LbEndpoints =
            {
                new LbEndpoint
                {
                    HealthStatus = HealthStatus.Healthy,
                    Endpoint = new Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = "127.0.0.1", PortValue = (uint)backends.Ports[backend] } } },
                },
            },
        };

        return new ClusterLoadAssignment { ClusterName = "greeter-eds", Endpoints = { Locality("east", "east", 3), Locality("west", "west", 1) } };
    }

    /// <summary>A minimal SotW ADS server: answers each request with the named resources it has, and ignores ACKs.</summary>
    private sealed class StaticXdsServer : AggregatedDiscoveryService.AggregatedDiscoveryServiceBase, IAsyncDisposable
    {
        private readonly Dictionary<string, Dictionary<string, IMessage>> _resources;
        private WebApplication? _app;

        private StaticXdsServer(Dictionary<string, Dictionary<string, IMessage>> resources) => _resources = resources;

        public Uri Address { get; private set; } = null!;

        private readonly List<DiscoveryRequest> _requests = [];

        public IReadOnlyList<DiscoveryRequest> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        public static async Task<StaticXdsServer> StartAsync(Dictionary<string, Dictionary<string, IMessage>> resources)
        {
            var server = new StaticXdsServer(resources);
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(server);
            server._app = builder.Build();
            server._app.MapGrpcService<StaticXdsServer>();
            await server._app.StartAsync();
            server.Address = new Uri(server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            return server;
        }

        public override async Task StreamAggregatedResources(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context)
        {
            var self = context.GetHttpContext().RequestServices.GetRequiredService<StaticXdsServer>();
            var known = new Dictionary<string, string>();
            var nonce = 0;
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                lock (self._requests)
                {
                    self._requests.Add(request.Clone());
                }

                var names = string.Join(",", request.ResourceNames.Order(StringComparer.Ordinal));
                if (known.TryGetValue(request.TypeUrl, out var previous) && previous == names)
                {
                    continue; // an ACK or NACK of what we sent
                }

                known[request.TypeUrl] = names;
                var response = new DiscoveryResponse { TypeUrl = request.TypeUrl, VersionInfo = "1", Nonce = (++nonce).ToString(System.Globalization.CultureInfo.InvariantCulture) };
                if (self._resources.TryGetValue(request.TypeUrl, out var ofType))
                {
                    foreach (var name in request.ResourceNames)
                    {
                        if (ofType.TryGetValue(name, out var resource))
                        {
                            response.Resources.Add(Any.Pack(resource));
                        }
                    }
                }

                await responseStream.WriteAsync(response);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_app is not null)
            {
                await _app.StopAsync();
                await _app.DisposeAsync();
            }
        }
    }
}
