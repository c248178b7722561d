using Mesh.Testing;
using Xunit.Abstractions;

namespace Mesh.Interop.Tests;

/// <summary>
/// @grpc/grpc-js-xds reports its load (LRS) to the Mesh control plane when the cluster names an <c>lrs_server</c>:
/// the control plane's aggregate for the edge equals the calls the client made.
/// </summary>
public class GrpcJsXdsLoadReportingTests(ITestOutputHelper output)
{
    private const string Target = "xds:///echo:9000";

    [Fact]
    public async Task LoadReporting_SuccessfulAndFailingCalls_LoadzTotalsMatchExactly()
    {
        const int Succeeding = 20;
        const int Failing = 5;
        await using var servers = await EchoServers.StartAsync("v1");
        await using var cp = await TestControlPlane.StartAsync(
            new Dictionary<string, string> { ["echo-se.yaml"] = EchoServiceEntry(servers.All[0].Port) },
            configure: o =>
            {
                o.LoadReporting = true;
                o.LoadReportingInterval = TimeSpan.FromSeconds(1);
            });

        // The client lingers past two report intervals after its last call, so its last report carries every call.
        var run = await GrpcJsXdsClient.RunAsync(
            cp.XdsAddress, Target, calls: Succeeding, extraArguments: ["--fail-calls", "5", "--linger-ms", "3500"]);
        output.WriteLine(run.Summary);
        Assert.True(run.Nacks.Count == 0, "grpc-js-xds NACKed: " + string.Join("; ", run.Nacks));
        Assert.True(run.Errors == Failing && run.Succeeded == Succeeding, run.Describe());

        var loadz = await cp.GetJsonAsync("/debug/loadz");
        output.WriteLine(loadz.ToJsonString());
        var edge = Assert.Single(loadz["edges"]!.AsArray(), e => e!["destinationService"]!.GetValue<string>() == "echo.default.svc.cluster.local")!;
        Assert.Equal("grpc-js-interop", edge["sourceWorkload"]!.GetValue<string>());
        Assert.Equal("default", edge["sourceNamespace"]!.GetValue<string>());
        Assert.Equal((ulong)Succeeding, edge["total"]!["succeeded"]!.GetValue<ulong>());
        Assert.Equal((ulong)Failing, edge["total"]!["errored"]!.GetValue<ulong>());
        Assert.Equal((ulong)(Succeeding + Failing), edge["total"]!["issued"]!.GetValue<ulong>());
        Assert.Equal(0UL, edge["inProgress"]!.GetValue<ulong>());
    }

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
