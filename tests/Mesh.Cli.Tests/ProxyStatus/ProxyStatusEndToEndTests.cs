using System.Text.Json.Nodes;
using Mesh.Cli.Tests.Support;
using Mesh.Xds;

namespace Mesh.Cli.Tests.ProxyStatus;

/// <summary>proxy-status against a real control plane with Bookinfo's workloads connected.</summary>
public sealed class ProxyStatusEndToEndTests
{
    [Fact]
    public async Task ProxyStatus_BookinfoConnected_ListsEveryWorkloadSynced()
    {
        await using var mesh = await BookinfoMesh.StartAsync();

        var result = await MeshTool.RunAsync(mesh.Http, "proxy-status");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAME", lines[0], StringComparison.Ordinal);
        Assert.Contains("CDS", lines[0], StringComparison.Ordinal);
        foreach (var node in new[] { "productpage-v1.default", "reviews-v1.default", "reviews-v2.default" })
        {
            var row = Assert.Single(lines, l => l.StartsWith(node + " ", StringComparison.Ordinal));
            Assert.Equal(4, CountOf(row, "SYNCED"));
        }

        var ratings = Assert.Single(lines, l => l.StartsWith("ratings-v1.default ", StringComparison.Ordinal));
        Assert.Equal(2, CountOf(ratings, "SYNCED"));
        Assert.DoesNotContain("NACK", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyStatus_AfterAChangeTheClientRejects_ShowsNackWithReason()
    {
        await using var mesh = await BookinfoMesh.StartAsync();

        await mesh.ApplyScenarioAsync("jason-v2");
        var update = await mesh.Ratings.ReceiveAsync(XdsTypeUrls.RouteConfiguration, timeout: TimeSpan.FromSeconds(15));
        await mesh.Ratings.NackAsync(update, [BookinfoMesh.ReviewsRoute], mesh.RatingsRouteVersion, "route reviews: header matcher 'end-user' not supported by this client");
        await mesh.WaitUntilAsync(c => c.Any(x => (string?)x!["types"]?["RDS"]?["state"] == "NACK"), "ratings-v1 RDS NACK");

        var table = await MeshTool.RunAsync(mesh.Http, "proxy-status");
        var detail = await MeshTool.RunAsync(mesh.Http, "proxy-status", "ratings-v1");
        var json = await MeshTool.RunAsync(mesh.Http, "proxy-status", "ratings-v1", "-o", "json");

        Assert.True(table.ExitCode == 0, table.ToString());
        var row = Assert.Single(table.Out.Split('\n'), l => l.StartsWith("ratings-v1.default ", StringComparison.Ordinal));
        Assert.Contains("NACK", row, StringComparison.Ordinal);
        Assert.Contains("ratings-v1.default RDS: route reviews: header matcher 'end-user' not supported by this client", table.Out, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^RDS\s+NACK\s+.*header matcher 'end-user' not supported", detail.Out);
        var client = Assert.Single((JsonArray)JsonNode.Parse(json.Out)!);
        Assert.Equal("NACK", (string?)client!["types"]!["RDS"]!["state"]);
        Assert.Equal("route reviews: header matcher 'end-user' not supported by this client", (string?)client["types"]!["RDS"]!["nack"]);

        // The .NET workloads took the same change.
        Assert.All(["productpage-v1.default", "reviews-v1.default"], n =>
            Assert.Contains(table.Out.Split('\n'), l => l.StartsWith(n + " ", StringComparison.Ordinal) && !l.Contains("NACK", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ProxyStatus_UnknownWorkload_FailsNamingTheConnectedOnes()
    {
        await using var mesh = await BookinfoMesh.StartAsync();

        var result = await MeshTool.RunAsync(mesh.Http, "proxy-status", "no-such-workload");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no connected client matches 'no-such-workload'", result.Error, StringComparison.Ordinal);
        Assert.Contains("productpage-v1.default", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
    }

    private static int CountOf(string text, string word) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(w => w == word);
}
