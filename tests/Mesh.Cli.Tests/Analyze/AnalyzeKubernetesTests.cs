using System.Text.Json.Nodes;
using Mesh.Cli.Tests.Support;
using Mesh.Testing.Kubernetes;

namespace Mesh.Cli.Tests.Analyze;

/// <summary>mesh analyze --kubernetes: the same validator and analyzers over what a cluster holds (a fake API server).</summary>
public sealed class AnalyzeKubernetesTests
{
    private static readonly JsonObject DestinationRule = Parse("""
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews", "namespace": "default"},
         "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}
        """);

    [Fact]
    public async Task AnalyzeKubernetes_CleanCluster_FindsNothing()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(DestinationRule);
        server.Store.Upsert(VirtualService("v1"));
        var kubeconfig = WriteKubeconfig(server);

        var result = await MeshTool.RunAsync(["analyze", "--kubernetes", "--kubeconfig", kubeconfig]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("No validation issues found when analyzing " + server.Address.ToString().TrimEnd('/'), result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnalyzeKubernetes_VirtualServiceWithUnknownSubset_ReportsIst0101AndFails()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(DestinationRule);
        server.Store.Upsert(VirtualService("v9"));
        var kubeconfig = WriteKubeconfig(server);

        var result = await MeshTool.RunAsync(["analyze", "--kubernetes", "--kubeconfig", kubeconfig]);

        Assert.Equal(AnalyzeExitCode, result.ExitCode);
        Assert.Contains("Error [IST0101] (VirtualService default/reviews k8s:VirtualService/default/reviews)", result.Out, StringComparison.Ordinal);
        Assert.Contains("\"reviews+v9\"", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnalyzeKubernetes_MissingKubeconfig_FailsNamingIt()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-kubeconfig-" + Guid.NewGuid().ToString("N"));

        var result = await MeshTool.RunAsync(["analyze", "--kubernetes", "--kubeconfig", missing]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot read the Kubernetes configuration '" + missing + "'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analyze_KubeconfigWithoutKubernetes_IsAUsageError()
    {
        var result = await MeshTool.RunAsync(["analyze", "--kubeconfig", "x"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--kubeconfig goes with --kubernetes.", result.Error, StringComparison.Ordinal);
    }

    private const int AnalyzeExitCode = 79;

    private static string WriteKubeconfig(FakeKubernetesApiServer server)
    {
        var path = Path.Combine(Path.GetTempPath(), "mesh-analyze-kubeconfig-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, server.CreateKubeconfig());
        return path;
    }

    private static JsonObject VirtualService(string subset) => Parse($$$"""
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews", "namespace": "default"},
         "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "{{{subset}}}"}}]}]}}
        """);

    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();
}
