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
        while (!IsComplete(result.Out) && DateTime.UtcNow < deadline);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Service:     reviews.default.svc.cluster.local", result.Out, StringComparison.Ordinal);
        Assert.True(result.Out.Contains("Routing:     VirtualService rules apply", StringComparison.Ordinal), result.ToString());
        Assert.Contains("outbound|9080|v1|reviews.default.svc.cluster.local 90%, outbound|9080|v3|reviews.default.svc.cluster.local 10%", result.Out, StringComparison.Ordinal);
        Assert.Matches(V1Cluster, result.Out);
        Assert.Matches(V3Endpoint, result.Out);

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

    private const string V1Cluster = @"(?m)^\s+outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local\s+ROUND_ROBIN\s+plaintext";
    private const string V1Endpoint = @"(?m)^\s+127\.0\.0\.1:19082\s+HEALTHY\s+outbound\|9080\|v1\|reviews";
    private const string V3Endpoint = @"(?m)^\s+127\.0\.0\.1:19084\s+HEALTHY\s+outbound\|9080\|v3\|reviews";

    /// <summary>
    /// The route, the clusters and the endpoints of canary-v3 reach productpage as separate xDS updates; describe shows
    /// what it has ACKed so far, so the test waits for all three, not only the route's weights.
    /// </summary>
    private static bool IsComplete(string output) =>
        output.Contains("90%", StringComparison.Ordinal)
        && System.Text.RegularExpressions.Regex.IsMatch(output, V1Cluster)
        && System.Text.RegularExpressions.Regex.IsMatch(output, V1Endpoint)
        && System.Text.RegularExpressions.Regex.IsMatch(output, V3Endpoint);
}
