using System.Text.Json.Nodes;
using Mesh.Cli.Tests.Support;

namespace Mesh.Cli.Tests.ProxyConfig;

/// <summary>proxy-config against a real control plane and real Mesh.Client workloads.</summary>
public sealed class ProxyConfigEndToEndTests
{
    [Fact]
    public async Task ProxyConfigRoutes_AfterJasonV2IsApplied_ShowsTheJasonRule()
    {
        await using var mesh = await BookinfoMesh.StartAsync();
        var before = await MeshTool.RunAsync(mesh.Http, "proxy-config", "routes", "productpage-v1");
        Assert.DoesNotContain("end-user=jason", before.Out, StringComparison.Ordinal);

        await mesh.ApplyScenarioAsync("jason-v2");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        CliResult result;
        do
        {
            await Task.Delay(100);
            result = await MeshTool.RunAsync(mesh.Http, "proxy-config", "routes", "productpage-v1");
        }
        while (!result.Out.Contains("end-user=jason", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"(?m)^reviews\.default\.svc\.cluster\.local:9080\s+\S+\s+\S+.*\s/\*\send-user=jason\s+outbound\|9080\|v2\|reviews\.default\.svc\.cluster\.local$", result.Out);
        Assert.Matches(@"(?m)^reviews\.default\.svc\.cluster\.local:9080\s+.*\s/\*\s+outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local$", result.Out);
    }

    [Theory]
    [InlineData("listeners")]
    [InlineData("routes")]
    [InlineData("clusters")]
    [InlineData("endpoints")]
    public async Task ProxyConfig_FromWorkload_AgreesWithTheControlPlane(string kind)
    {
        await using var mesh = await BookinfoMesh.StartAsync();
        var productpage = mesh.Workloads[0];

        var fromControlPlane = await MeshTool.RunAsync(mesh.Http, "proxy-config", kind, "productpage-v1", "-o", "json");
        var fromWorkload = await MeshTool.RunAsync(["proxy-config", kind, "--from-workload", productpage.CsdsAddress, "-o", "json"]);
        var tableFromControlPlane = await MeshTool.RunAsync(mesh.Http, "proxy-config", kind, "productpage-v1");
        var tableFromWorkload = await MeshTool.RunAsync(["proxy-config", kind, "--from-workload", productpage.CsdsAddress]);

        Assert.True(fromControlPlane.ExitCode == 0, fromControlPlane.ToString());
        Assert.True(fromWorkload.ExitCode == 0, fromWorkload.ToString());
        var sent = Contents((JsonArray)JsonNode.Parse(fromControlPlane.Out)!);
        var held = Contents((JsonArray)JsonNode.Parse(fromWorkload.Out)!);
        Assert.NotEmpty(sent);
        Assert.Equal(sent.Keys.Order(StringComparer.Ordinal), held.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, resource) in sent)
        {
            Assert.True(JsonNode.DeepEquals(resource, held[name]), $"{kind} {name} differs:\nsent {resource?.ToJsonString()}\nheld {held[name]?.ToJsonString()}");
        }

        Assert.Equal(tableFromControlPlane.Out, tableFromWorkload.Out);
    }

    [Fact]
    public async Task ProxyConfig_UnknownWorkload_FailsNamingTheConnectedOnes()
    {
        await using var mesh = await BookinfoMesh.StartAsync();

        var result = await MeshTool.RunAsync(mesh.Http, "proxy-config", "clusters", "details-v9");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no connected client matches 'details-v9'. Connected: productpage-v1.default, ratings-v1.default, reviews-v1.default, reviews-v2.default.", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyConfig_FromWorkloadNotListening_FailsClearly()
    {
        var result = await MeshTool.RunAsync(["proxy-config", "clusters", "--from-workload", "127.0.0.1:1"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot read the client status from 127.0.0.1:1: Unavailable", result.Error, StringComparison.Ordinal);
    }

    private static Dictionary<string, JsonNode?> Contents(JsonArray resources) =>
        resources.ToDictionary(r => (string)r!["name"]!, r => r!["resource"], StringComparer.Ordinal);
}
