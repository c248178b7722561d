using System.Net;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Common.Fault.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Type.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Client.Tests.Policies;

/// <summary>
/// Fault-filter overrides (typed_per_filter_config, gRFC A39) end to end on the gRPC channel and the HttpClient: a
/// route's override applies to all its calls, a weighted cluster's only to the calls sent to that cluster.
/// </summary>
public sealed class FilterOverrideEndToEndTests
{
    private static Any Abort503() => Any.Pack(new HTTPFault
    {
        Abort = new FaultAbort { HttpStatus = 503, Percentage = new FractionalPercent { Numerator = 100, Denominator = FractionalPercent.Types.DenominatorType.Hundred } },
    });

    [Theory]
    [InlineData("route", "grpc")]
    [InlineData("route", "http")]
    [InlineData("weighted-cluster", "grpc")]
    [InlineData("weighted-cluster", "http")]
    public async Task FaultOverrideAbort503_AppliesToTheCallsItCovers(string scope, string path)
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        var action = new RouteAction
        {
            WeightedClusters = new WeightedCluster
            {
                Clusters =
                {
                    new WeightedCluster.Types.ClusterWeight { Name = "to-a", Weight = 1 },
                    new WeightedCluster.Types.ClusterWeight { Name = "to-b", Weight = 1 },
                },
            },
        };
        var route = new Route { Match = new RouteMatch { Prefix = "" }, Route_ = action };
        if (scope == "route")
        {
            route.TypedPerFilterConfig["fault"] = Abort503();
        }
        else
        {
            action.WeightedClusters.Clusters[1].TypedPerFilterConfig["fault"] = Abort503();
        }

        var resources = new Dictionary<string, IMessage>
        {
            [MeshXds.ListenerName] = MeshXds.Listener([route], new Hcm.HttpFilter { Name = "fault", TypedConfig = Any.Pack(new HTTPFault()) }),
            ["to-a"] = MeshXds.Cluster("to-a"),
            ["to-b"] = MeshXds.Cluster("to-b"),
            ["to-a-eds"] = MeshXds.Endpoints("to-a", backends.Ports["a"]),
            ["to-b-eds"] = MeshXds.Endpoints("to-b", backends.Ports["b"]),
        };
        await using var server = await FakeAdsServer.StartAsync();
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(server.Address, "override-" + scope + "-" + path));
        services.AddHttpClient("greeter", c =>
        {
            c.BaseAddress = new Uri("http://" + MeshXds.ListenerName);
            c.DefaultRequestVersion = HttpVersion.Version20;
            c.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }).AddMeshRouting();
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///" + MeshXds.ListenerName, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var grpc = new Greeter.GreeterClient(channel);
        var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("greeter");
        Func<Task<bool>> call = path == "grpc"
            ? async () =>
            {
                try
                {
                    await grpc.SayHelloAsync(new HelloRequest { Name = "x" }, deadline: DateTime.UtcNow.AddSeconds(10));
                    return true;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
                {
                    return false;
                }
            }
        : async () =>
            {
                using var response = await http.GetAsync("/slow/0");
                Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, response.StatusCode.ToString());
                return response.StatusCode == HttpStatusCode.OK;
            };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var first = call();
        var stream = await server.NextStreamAsync(TimeSpan.FromSeconds(10));
        var serving = MeshXds.ServeAsync(stream, resources, cts.Token);
        await first;
        backends.Reset();

        var ok = 0;
        for (var i = 0; i < 400; i++)
        {
            ok += await call() ? 1 : 0;
        }

        if (scope == "route")
        {
            Assert.Equal(0, ok); // 100 % aborted with 503 (UNAVAILABLE on gRPC)
            Assert.Equal(0, backends.Total);
        }
        else
        {
            Assert.InRange(ok, 140, 260); // only the half sent to "to-b" is aborted
            Assert.Equal(ok, backends.Calls.GetValueOrDefault("a"));
            Assert.Equal(0, backends.Calls.GetValueOrDefault("b"));
        }

        await cts.CancelAsync();
        await serving;
    }
}
