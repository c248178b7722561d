using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Mesh.Testing;
using Mesh.Xds;
using Xunit.Abstractions;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.Interop.Tests;

/// <summary>
/// @grpc/grpc-js-xds, a third-party proxyless xDS client, resolves <c>xds:///echo:9000</c> through the Mesh control
/// plane and calls real Kestrel gRPC servers: it must accept what the control plane serves and route as configured.
/// </summary>
public class GrpcJsXdsTests(ITestOutputHelper output)
{
    private const string Target = "xds:///echo:9000";
    private const double Tolerance = 5.0;

    [Fact]
    public async Task XdsTarget_NoVirtualService_CallsReachServers()
    {
        await using var servers = await EchoServers.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["echo-se.yaml"] = EchoServiceEntry(servers) });

        var run = await GrpcJsXdsClient.RunAsync(cp.XdsAddress, Target, calls: 200);
        ReportAndAssertNoNacks("no VirtualService", run);

        Assert.True(run.Errors == 0 && run.Succeeded == 200, run.Describe());
        Assert.Equal(servers.Calls(), FillMissing(run.Counts, servers));
        // No VirtualService: one cluster with both endpoints, balanced round robin (the default), so both serve.
        Assert.All(servers.All, s => Assert.True(run.PercentOf(s.Name) is >= 35 and <= 65, $"{s.Name}: {run.PercentOf(s.Name):F1}% of calls; " + run.Describe()));
    }

    [Fact]
    public async Task XdsTarget_VirtualServiceSplit80To20_CallsFollowWeights()
    {
        await using var servers = await EchoServers.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(EchoWithSplit(servers, 80, 20));

        var run = await GrpcJsXdsClient.RunAsync(cp.XdsAddress, Target, calls: 1000);
        ReportAndAssertNoNacks("80/20", run);

        AssertSplit(run, v1: 80, v2: 20);
        Assert.Equal(servers.Calls(), FillMissing(run.Counts, servers));
    }

    [Fact]
    public async Task XdsTarget_SplitEditedTo20To80_NextRunFollowsNewWeights()
    {
        await using var servers = await EchoServers.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(EchoWithSplit(servers, 80, 20));
        await using var watcher = new AdsTestClient(cp.XdsAddress, nodeId: "interop-watcher");
        var routeName = await SubscribeToRouteAsync(watcher);

        var before = await GrpcJsXdsClient.RunAsync(cp.XdsAddress, Target, calls: 1000);
        ReportAndAssertNoNacks("80/20 before the edit", before);
        AssertSplit(before, v1: 80, v2: 20);

        await cp.WriteFileAsync("echo-vs.yaml", EchoVirtualService(20, 80));
        await WaitForWeightsAsync(watcher, routeName, [20, 80]);
        var after = await GrpcJsXdsClient.RunAsync(cp.XdsAddress, Target, calls: 1000);
        ReportAndAssertNoNacks("20/80 after the edit", after);

        AssertSplit(after, v1: 20, v2: 80);
        Assert.Equal(servers.Calls(), SumCounts(before, after, servers));
    }

    private void ReportAndAssertNoNacks(string scenario, GrpcJsXdsRun run)
    {
        output.WriteLine($"{scenario}: {run.Summary}");
        // grpc-js-xds accepted everything the control plane sent: none of its requests carries an error_detail.
        Assert.True(run.Nacks.Count == 0, "grpc-js-xds NACKed: " + string.Join("; ", run.Nacks) + "\n" + GrpcJsXdsClient.Excerpt(run.Stderr));
    }

    private static void AssertSplit(GrpcJsXdsRun run, int v1, int v2)
    {
        Assert.True(run.Errors == 0, run.Describe());
        Assert.True(Math.Abs(run.PercentOf("v1") - v1) <= Tolerance, $"v1 got {run.PercentOf("v1"):F1}% of calls, expected {v1} ± {Tolerance}; " + run.Describe());
        Assert.True(Math.Abs(run.PercentOf("v2") - v2) <= Tolerance, $"v2 got {run.PercentOf("v2"):F1}% of calls, expected {v2} ± {Tolerance}; " + run.Describe());
    }

    private static Dictionary<string, int> FillMissing(IReadOnlyDictionary<string, int> counts, EchoServers servers) =>
        servers.All.ToDictionary(s => s.Name, s => counts.GetValueOrDefault(s.Name));

    private static Dictionary<string, int> SumCounts(GrpcJsXdsRun first, GrpcJsXdsRun second, EchoServers servers) =>
        servers.All.ToDictionary(s => s.Name, s => first.Counts.GetValueOrDefault(s.Name) + second.Counts.GetValueOrDefault(s.Name));

    /// <summary>Follows the listener of <c>echo:9000</c> to its route configuration, ACKing both; returns the route's name.</summary>
    private static async Task<string> SubscribeToRouteAsync(AdsTestClient client)
    {
        const string listenerName = "echo:9000";
        await client.SendAsync(XdsTypeUrls.Listener, [listenerName]);
        var lds = await client.ReceiveAsync(XdsTypeUrls.Listener);
        await client.AckAsync(lds, [listenerName]);
        var hcm = Assert.Single(lds.Resources).Unpack<Listener>().ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>();
        var routeName = hcm.Rds.RouteConfigName;

        await client.SendAsync(XdsTypeUrls.RouteConfiguration, [routeName]);
        var rds = await client.ReceiveAsync(XdsTypeUrls.RouteConfiguration);
        await client.AckAsync(rds, [routeName]);
        return routeName;
    }

    /// <summary>Waits until the control plane pushes the route with <paramref name="weights"/>, so a new client sees them.</summary>
    private static async Task WaitForWeightsAsync(AdsTestClient client, string routeName, uint[] weights)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            Assert.True(remaining > TimeSpan.Zero, $"the control plane did not push weights [{string.Join(", ", weights)}] in time");
            var rds = await client.ReceiveAsync(XdsTypeUrls.RouteConfiguration, timeout: remaining);
            await client.AckAsync(rds, [routeName]);
            var route = Assert.Single(rds.Resources).Unpack<RouteConfiguration>().VirtualHosts.SelectMany(v => v.Routes).First();
            if (route.Route_.WeightedClusters?.Clusters.Select(c => c.Weight.GetValueOrDefault()).SequenceEqual(weights) == true)
            {
                return;
            }
        }
    }

    private static Dictionary<string, string> EchoWithSplit(EchoServers servers, int v1, int v2) => new()
    {
        ["echo-se.yaml"] = EchoServiceEntry(servers),
        ["echo-dr.yaml"] = EchoDestinationRule,
        ["echo-vs.yaml"] = EchoVirtualService(v1, v2),
    };

    /// <summary>echo.default.svc.cluster.local:9000, one static endpoint per server, labelled with its name as version.</summary>
    private static string EchoServiceEntry(EchoServers servers) => $$"""
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
        {{string.Concat(servers.All.Select(s => $"  - {{address: 127.0.0.1, ports: {{grpc: {s.Port}}}, labels: {{version: {s.Name}}}}}\n"))}}
        """;

    private const string EchoDestinationRule = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: echo
          namespace: default
        spec:
          host: echo.default.svc.cluster.local
          subsets:
          - name: v1
            labels: {version: v1}
          - name: v2
            labels: {version: v2}
        """;

    private static string EchoVirtualService(int v1, int v2) => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: echo
          namespace: default
        spec:
          hosts: [echo.default.svc.cluster.local]
          http:
          - route:
            - destination: {host: echo.default.svc.cluster.local, subset: v1}
              weight: {{v1}}
            - destination: {host: echo.default.svc.cluster.local, subset: v2}
              weight: {{v2}}
        """;
}
