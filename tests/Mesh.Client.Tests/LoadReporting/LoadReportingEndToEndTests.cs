using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.LoadReporting;

/// <summary>
/// Load reporting through the public API against the real control plane (<c>--load-reporting</c>) and real Kestrel
/// backends: HttpClient requests (AddMeshRouting) and gRPC calls with a circuit breaker are counted exactly per edge.
/// </summary>
public sealed class LoadReportingEndToEndTests
{
    private static string Bootstrap(Uri xds, string workload) => $$$"""
        {
          "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
          "node": {"id": "{{{workload}}}-1.default", "metadata": {"NAMESPACE": "default", "WORKLOAD_NAME": "{{{workload}}}"}}
        }
        """;

    private static Task<TestControlPlane> StartControlPlaneAsync(Dictionary<string, string> files) =>
        TestControlPlane.StartAsync(files, configure: o =>
        {
            o.LoadReporting = true;
            o.LoadReportingInterval = TimeSpan.FromMilliseconds(300);
        });

    private static async Task<JsonNode> WaitForEdgeAsync(TestControlPlane cp, string workload, Func<JsonNode, bool> done)
    {
        JsonNode? edge = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            var loadz = await cp.GetJsonAsync("/debug/loadz");
            edge = loadz["edges"]!.AsArray().FirstOrDefault(e => e!["sourceWorkload"]!.GetValue<string>() == workload);
            if (edge is not null && done(edge))
            {
                return edge;
            }
        }

        Assert.Fail($"The edge of {workload} did not reach the expected load within 20 s: {edge?.ToJsonString() ?? "no edge"}");
        return null!;
    }

    private static ulong Total(JsonNode edge, string name) => edge["total"]![name]!.GetValue<ulong>();

    [Fact]
    public async Task HttpClient_SuccessfulAnd503Requests_EdgeCountsThemExactly()
    {
        await using var backends = await RestBackends.StartAsync("v1");
        await using var cp = await StartControlPlaneAsync(new() { ["se.yaml"] = MeshYaml.ServiceEntry(backends.Ports, "http", "HTTP", "v1") });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = Bootstrap(cp.XdsAddress, "http-caller"));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter")).AddMeshRouting();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        for (var i = 0; i < 12; i++)
        {
            using var response = await client.GetAsync("/hello");
            Assert.True(response.IsSuccessStatusCode);
        }

        backends.Failing["v1"] = true;
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync("/hello");
            Assert.Equal(503, (int)response.StatusCode);
        }

        var edge = await WaitForEdgeAsync(cp, "http-caller", e => Total(e, "succeeded") + Total(e, "errored") >= 16);
        await Task.Delay(700); // two more intervals: nothing counted twice
        edge = await WaitForEdgeAsync(cp, "http-caller", _ => true);
        Assert.Equal(("greeter.default.svc.cluster.local", 9080), (edge["destinationService"]!.GetValue<string>(), edge["destinationPort"]!.GetValue<int>()));
        Assert.Equal((16UL, 12UL, 4UL, 0UL), (Total(edge, "issued"), Total(edge, "succeeded"), Total(edge, "errored"), edge["inProgress"]!.GetValue<ulong>()));
        Assert.Equal(16, backends.Calls["v1"]);
    }

    [Fact]
    public async Task GrpcChannel_CircuitBreakerDrops_AreReportedAsDropped()
    {
        await using var backends = await GreeterBackends.StartAsync("v1");
        await using var cp = await StartControlPlaneAsync(new()
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "v1"),
            ["dr.yaml"] = """
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: greeter}
                spec:
                  host: greeter
                  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}
                """,
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = Bootstrap(cp.XdsAddress, "grpc-caller"));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel);
        await client.SayHelloAsync(new HelloRequest { Name = "warm-up" }, deadline: DateTime.UtcNow.AddSeconds(20));

        // One slow call holds the only slot; three calls meanwhile are dropped by the circuit breaker.
        var slow = client.SayHelloSlowlyAsync(new HelloRequest { Name = "slow", DelayMs = 1500 }, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync;
        await WaitForEdgeAsync(cp, "grpc-caller", e => e["inProgress"]!.GetValue<ulong>() == 1);
        var dropped = 0;
        for (var i = 0; i < 3; i++)
        {
            try
            {
                await client.SayHelloAsync(new HelloRequest { Name = "dropped" }, deadline: DateTime.UtcNow.AddSeconds(5));
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                dropped++;
            }
        }

        await slow;
        Assert.Equal(3, dropped);
        var edge = await WaitForEdgeAsync(cp, "grpc-caller", e => Total(e, "succeeded") == 2 && Total(e, "dropped") == 3);
        Assert.Equal((2UL, 2UL, 0UL, 3UL, 0UL), (Total(edge, "issued"), Total(edge, "succeeded"), Total(edge, "errored"), Total(edge, "dropped"), edge["inProgress"]!.GetValue<ulong>()));
    }
}
