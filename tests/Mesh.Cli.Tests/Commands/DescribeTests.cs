using System.Text.Json.Nodes;
using Mesh.Cli.Tests.Support;

namespace Mesh.Cli.Tests.Commands;

/// <summary>mesh describe against a real control plane with Bookinfo connected.</summary>
public sealed class DescribeTests
{
    [Fact]
    public async Task DescribeService_Reviews_ShowsRulesWeightsClustersAndEndpoints()
    {
        await using var mesh = await BookinfoMesh.StartAsync();
        await mesh.ApplyScenarioAsync("canary-v3");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        CliResult result;
        do
        {
            await Task.Delay(100);
            result = await MeshTool.RunAsync(mesh.Http, "describe", "service", "reviews");
        }
        while (!result.Out.Contains("90%", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Service:     reviews.default.svc.cluster.local", result.Out, StringComparison.Ordinal);
        Assert.True(result.Out.Contains("Routing:     VirtualService rules apply", StringComparison.Ordinal), result.ToString());
        Assert.Contains("outbound|9080|v1|reviews.default.svc.cluster.local 90%, outbound|9080|v3|reviews.default.svc.cluster.local 10%", result.Out, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^\s+outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local\s+ROUND_ROBIN\s+plaintext", result.Out);
        Assert.Matches(@"(?m)^\s+127\.0\.0\.1:19084\s+HEALTHY\s+outbound\|9080\|v3\|reviews", result.Out);

        var json = await MeshTool.RunAsync(mesh.Http, "describe", "service", "reviews", "-o", "json");
        var description = JsonNode.Parse(json.Out)!;
        Assert.Equal("productpage-v1.default", (string?)description["seenBy"]);
        Assert.Equal(3, description["endpointCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task DescribeWorkload_Productpage_ShowsItsListenersAndRoutes()
    {
        await using var mesh = await BookinfoMesh.StartAsync();

        var result = await MeshTool.RunAsync(mesh.Http, "describe", "workload", "productpage-v1");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Workload:  productpage-v1.default", result.Out, StringComparison.Ordinal);
        Assert.Contains("details:9080", result.Out, StringComparison.Ordinal);
        Assert.Contains("reviews:9080", result.Out, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^\s+reviews\.default\.svc\.cluster\.local:9080\s+/\*\s+outbound\|9080\|\|reviews\.default\.svc\.cluster\.local", result.Out);
    }

    [Fact]
    public async Task DescribeService_Unknown_FailsListingTheServices()
    {
        await using var mesh = await BookinfoMesh.StartAsync();

        var result = await MeshTool.RunAsync(mesh.Http, "describe", "service", "payments");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no service 'payments.default.svc.cluster.local' in the control plane's configuration. Services: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("reviews.default.svc.cluster.local", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DescribeWorkload_Unknown_FailsClearly()
    {
        await using var mesh = await BookinfoMesh.StartAsync();

        var result = await MeshTool.RunAsync(mesh.Http, "describe", "workload", "payments-v1");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("payments-v1", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
    }
}
