using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Mesh.Interop.Tests;

/// <summary>
/// Issue 17's LRS acceptance: a Mesh client (Mesh.Client over Grpc.Net.Client) and a @grpc/grpc-js-xds client both report
/// their load (LRS) to the real Mesh control plane, against a real Kestrel backend; each makes a known number of
/// successful and failing calls, and /debug/loadz shows, for each client's edge, exactly those counts.
/// </summary>
public class MeshAndGrpcJsLoadReportingTests(ITestOutputHelper output)
{
    private const string Target = "xds:///echo:9000";
    private const string Destination = "echo.default.svc.cluster.local";
    private const string MeshWorkload = "mesh-interop-client";
    private const string GrpcJsWorkload = "grpc-js-interop";

    [Fact]
    public async Task LoadReporting_MeshAndGrpcJsClients_EachEdgeMatchesTheCallsExactly()
    {
        const int MeshSucceeding = 30;
        const int MeshFailing = 7;
        const int JsSucceeding = 20;
        const int JsFailing = 5;
        await using var servers = await EchoServers.StartAsync("v1");
        await using var cp = await TestControlPlane.StartAsync(
            new Dictionary<string, string> { ["echo-se.yaml"] = EchoServiceEntry(servers.All[0].Port) },
            configure: o =>
            {
                o.LoadReporting = true;
                o.LoadReportingInterval = TimeSpan.FromSeconds(1);
            });

        // The Mesh client: calls one after the other, then the channel stays open until its reports carry every call.
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshBootstrap(cp.XdsAddress));
        var provider = services.BuildServiceProvider();
        await using (provider)
        {
            using var channel = GrpcChannel.ForAddress(Target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
            var client = new Echo.EchoClient(channel);
            var (succeeded, failed) = (0, 0);
            for (var i = 0; i < MeshSucceeding + MeshFailing; i++)
            {
                try
                {
                    await client.SayAsync(new SayRequest { Message = i < MeshSucceeding ? "hello " + i : "fail " + i }, deadline: DateTime.UtcNow.AddSeconds(20));
                    succeeded++;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Internal)
                {
                    failed++;
                }
            }

            Assert.Equal((MeshSucceeding, MeshFailing), (succeeded, failed));
            var meshEdge = await WaitForEdgeAsync(cp, MeshWorkload, MeshSucceeding + MeshFailing);
            output.WriteLine(meshEdge.ToJsonString());
        }

        // The grpc-js-xds client lingers past two report intervals after its last call, so its last report carries every call.
        var run = await GrpcJsXdsClient.RunAsync(
            cp.XdsAddress, Target, calls: JsSucceeding, extraArguments: ["--fail-calls", JsFailing.ToString(System.Globalization.CultureInfo.InvariantCulture), "--linger-ms", "3500"]);
        output.WriteLine(run.Summary);
        Assert.True(run.Nacks.Count == 0, "grpc-js-xds NACKed: " + string.Join("; ", run.Nacks));
        Assert.True(run.Errors == JsFailing && run.Succeeded == JsSucceeding, run.Describe());
        await WaitForEdgeAsync(cp, GrpcJsWorkload, JsSucceeding + JsFailing);

        // The interval is closed: both clients are gone, and the control plane's aggregate per edge is exactly the calls made.
        var loadz = await cp.GetJsonAsync("/debug/loadz");
        output.WriteLine(loadz.ToJsonString());
        var edges = loadz["edges"]!.AsArray().Where(e => e!["destinationService"]!.GetValue<string>() == Destination).ToList();
        Assert.Equal(2, edges.Count);
        AssertEdge(Edge(edges, MeshWorkload), MeshSucceeding, MeshFailing);
        AssertEdge(Edge(edges, GrpcJsWorkload), JsSucceeding, JsFailing);
        Assert.Equal(MeshSucceeding + MeshFailing + JsSucceeding + JsFailing, servers.Calls()["v1"]);

        // Mesh's latency histogram: every finished call is in it, and p50 ≤ p99 are plausible for loopback calls.
        var latency = Edge(edges, MeshWorkload)["latency"]!;
        Assert.Equal((ulong)(MeshSucceeding + MeshFailing), latency["count"]!.GetValue<ulong>());
        var p50 = latency["p50Ms"]!.GetValue<double>();
        var p99 = latency["p99Ms"]!.GetValue<double>();
        Assert.InRange(p50, 0.0, 5000.0);
        Assert.InRange(p99, p50, 10_000.0);
    }

    private static JsonNode Edge(List<JsonNode?> edges, string workload) =>
        Assert.Single(edges, e => e!["sourceWorkload"]!.GetValue<string>() == workload)!;

    private static void AssertEdge(JsonNode edge, int succeeded, int failed)
    {
        Assert.Equal("default", edge["sourceNamespace"]!.GetValue<string>());
        Assert.Equal(9000, edge["destinationPort"]!.GetValue<int>());
        Assert.Equal((ulong)succeeded, edge["total"]!["succeeded"]!.GetValue<ulong>());
        Assert.Equal((ulong)failed, edge["total"]!["errored"]!.GetValue<ulong>());
        Assert.Equal((ulong)(succeeded + failed), edge["total"]!["issued"]!.GetValue<ulong>());
        Assert.Equal(0UL, edge["total"]!["dropped"]!.GetValue<ulong>());
        Assert.Equal(0UL, edge["inProgress"]!.GetValue<ulong>());
    }

    /// <summary>Waits (at most 20 s) until the edge of <paramref name="workload"/> has reported <paramref name="calls"/> finished calls.</summary>
    private static async Task<JsonNode> WaitForEdgeAsync(TestControlPlane cp, string workload, int calls)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        JsonNode? edge = null;
        while (DateTime.UtcNow < deadline)
        {
            var loadz = await cp.GetJsonAsync("/debug/loadz");
            edge = loadz["edges"]!.AsArray().FirstOrDefault(e => e!["sourceWorkload"]!.GetValue<string>() == workload && e["destinationService"]!.GetValue<string>() == Destination);
            if (edge is not null
                && edge["total"]!["succeeded"]!.GetValue<ulong>() + edge["total"]!["errored"]!.GetValue<ulong>() >= (ulong)calls
                && edge["inProgress"]!.GetValue<ulong>() == 0)
            {
                return edge;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"The edge of {workload} did not report {calls} finished calls within 20 s: {edge?.ToJsonString() ?? "no edge"}");
        return null!;
    }

    private static string MeshBootstrap(Uri xds) => $$$"""
        {
          "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
          "node": {"id": "mesh-interop-1.default", "metadata": {"NAMESPACE": "default", "WORKLOAD_NAME": "{{{MeshWorkload}}}"}}
        }
        """;

    private static string EchoServiceEntry(int port) => """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: echo
          namespace: default
        spec:
          hosts: [echo.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 9000, name: grpc, protocol: GRPC}
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: PORT}, labels: {version: v1}}
        """.Replace("PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
