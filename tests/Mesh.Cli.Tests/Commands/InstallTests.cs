using System.Diagnostics;
using k8s;
using k8s.Models;
using Mesh.Cli.Tests.Support;

namespace Mesh.Cli.Tests.Commands;

/// <summary>mesh install / uninstall: the printed manifests, pinned, typed and read by the real kubectl.</summary>
public sealed class InstallTests
{
    private static readonly int[] ServicePorts = [15010, 15012, 15014, 15017];

    [Theory]
    [InlineData("install --dry-run", "install-default.yaml")]
    [InlineData("install --dry-run --profile demo --revision canary --set hub=registry.example.com/mesh --set tag=0.2.0 --set namespace=mesh", "install-demo-canary.yaml")]
    public async Task InstallDryRun_PrintsThePinnedManifests(string commandLine, string golden)
    {
        var result = await MeshTool.RunAsync(commandLine.Split(' '));

        Assert.True(result.ExitCode == 0, result.ToString());
        Golden.AssertMatches("snapshots/" + golden, result.Out.Replace(ClientTag(), "VERSION", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InstallDryRun_EveryObjectDecodesStrictlyAsItsKubernetesType()
    {
        var result = await MeshTool.RunAsync(["install", "--dry-run"]);
        var documents = result.Out.Split("---\n", StringSplitOptions.RemoveEmptyEntries);

        // Strict: an unknown or mistyped field is an error, as the API server's strict field validation would make it.
        var kinds = documents.Select(d => KubernetesYaml.Deserialize<KubernetesObject>(d).Kind).ToList();
        foreach (var document in documents)
        {
            var kind = KubernetesYaml.Deserialize<KubernetesObject>(document).Kind;
            object typed = kind switch
            {
                "Namespace" => KubernetesYaml.Deserialize<V1Namespace>(document, strict: true),
                "CustomResourceDefinition" => KubernetesYaml.Deserialize<V1CustomResourceDefinition>(document, strict: true),
                "ServiceAccount" => KubernetesYaml.Deserialize<V1ServiceAccount>(document, strict: true),
                "ClusterRole" => KubernetesYaml.Deserialize<V1ClusterRole>(document, strict: true),
                "ClusterRoleBinding" => KubernetesYaml.Deserialize<V1ClusterRoleBinding>(document, strict: true),
                "Role" => KubernetesYaml.Deserialize<V1Role>(document, strict: true),
                "RoleBinding" => KubernetesYaml.Deserialize<V1RoleBinding>(document, strict: true),
                "Service" => KubernetesYaml.Deserialize<V1Service>(document, strict: true),
                "Deployment" => KubernetesYaml.Deserialize<V1Deployment>(document, strict: true),
                "PodDisruptionBudget" => KubernetesYaml.Deserialize<V1PodDisruptionBudget>(document, strict: true),
                "MutatingWebhookConfiguration" => KubernetesYaml.Deserialize<V1MutatingWebhookConfiguration>(document, strict: true),
                _ => throw new InvalidOperationException("unexpected kind " + kind),
            };
            Assert.NotNull(typed);
        }

        Assert.Equal(15, kinds.Count(k => k == "CustomResourceDefinition"));
        var deployment = KubernetesYaml.Deserialize<V1Deployment>(documents.Single(d => d.Contains("\nkind: Deployment\n", StringComparison.Ordinal)));
        Assert.Equal(2, deployment.Spec.Replicas);
        var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
        Assert.Equal("/healthz/ready", container.ReadinessProbe.HttpGet.Path);
        Assert.NotNull(container.Resources.Requests["cpu"]);
        Assert.NotNull(deployment.Spec.Template.Spec.Affinity.PodAntiAffinity);
        var service = KubernetesYaml.Deserialize<V1Service>(documents.Single(d => d.Contains("\nkind: Service\n", StringComparison.Ordinal)));
        Assert.Equal(ServicePorts, service.Spec.Ports.Select(p => p.Port).Where(p => p != 443));
        Assert.Contains(kinds, k => k == "PodDisruptionBudget");
        var role = KubernetesYaml.Deserialize<V1ClusterRole>(documents.Single(d => d.Contains("\nkind: ClusterRole\n", StringComparison.Ordinal)));
        Assert.Contains(role.Rules, r => r.Resources.Contains("tokenreviews") && r.Verbs.SequenceEqual(["create"]));
        Assert.DoesNotContain(role.Rules, r => r.Verbs.Contains("*") || r.Resources.Contains("*") || r.Resources.Contains("secrets"));
    }

    [Theory]
    [InlineData("install --dry-run")]
    [InlineData("install --dry-run --profile demo --revision canary")]
    public async Task InstallDryRun_RealKubectlReadsEveryObject(string commandLine)
    {
        var result = await MeshTool.RunAsync(commandLine.Split(' '));
        var count = result.Out.Split("---\n", StringSplitOptions.RemoveEmptyEntries).Length;

        // kubectl apply --dry-run=client needs an API server for discovery; --local parses and decodes every object offline.
        var (exit, stdout, stderr) = await RunKubectlAsync(result.Out, "label", "--local", "-f", "-", "mesh.io/checked=true", "-o", "name");

        Assert.True(exit == 0, stderr);
        var names = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(count, names.Length);
        Assert.Contains("customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io", names);
        Assert.Contains("deployment.apps/mesh-controlplane" + (commandLine.Contains("canary", StringComparison.Ordinal) ? "-canary" : string.Empty), names);
    }

    [Theory]
    [InlineData("install --dry-run")]
    [InlineData("install --dry-run --profile demo --revision canary")]
    public async Task InstallDryRun_RealKubectlApplyDryRunClientAcceptsEveryObject(string commandLine)
    {
        var result = await MeshTool.RunAsync(commandLine.Split(' '));
        var count = result.Out.Split("---\n", StringSplitOptions.RemoveEmptyEntries).Length;
        await using var apiServer = await KubeDiscoveryServer.StartAsync();
        var kubeconfig = Path.Combine(Path.GetTempPath(), $"mesh-kubeconfig-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(kubeconfig, $"apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster: {{server: '{apiServer.Address.ToString().TrimEnd('/')}'}}\ncontexts:\n- name: test\n  context: {{cluster: test, user: test}}\ncurrent-context: test\nusers:\n- name: test\n  user: {{token: test}}\n");
        try
        {
            // Client dry-run asks the API server for discovery and for each object's current state, so it gets a fake
            // one that knows the kinds and holds no objects; schema validation needs the server's OpenAPI, which the
            // fake does not serve, hence --validate=false (the strict typed decoding test above covers the schemas).
            var (exit, stdout, stderr) = await RunKubectlAsync(result.Out, "--kubeconfig", kubeconfig, "apply", "--dry-run=client", "--validate=false", "-f", "-");

            Assert.True(exit == 0, stderr + stdout);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(count, lines.Length);
            Assert.All(lines, l => Assert.EndsWith(" created (dry run)", l, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    [Theory]
    [InlineData("install --dry-run --set replicas=zero", "--set: 'zero' is not a valid value for replicas")]
    [InlineData("install --dry-run --set color=blue", "--set: unknown key 'color'")]
    [InlineData("install --dry-run --set replicas", "--set: 'replicas' is not key=value.")]
    [InlineData("install --dry-run --revision Canary!", "--revision: 'Canary!' is not a valid revision")]
    [InlineData("install --dry-run --profile minimal", "Argument 'minimal' not recognized.")]
    public async Task Install_BadFlags_AreUsageErrors(string commandLine, string expected)
    {
        var result = await MeshTool.RunAsync(commandLine.Split(' '));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Uninstall_DryRun_ListsEverythingButTheCrds()
    {
        var result = await MeshTool.RunAsync(["uninstall", "--dry-run"]);
        var purge = await MeshTool.RunAsync(["uninstall", "--dry-run", "--purge"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("would delete MutatingWebhookConfiguration/mesh-sidecar-injector", result.Out, StringComparison.Ordinal);
        Assert.Contains("would delete Deployment/mesh-controlplane", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("CustomResourceDefinition", result.Out, StringComparison.Ordinal);
        Assert.Contains("would delete CustomResourceDefinition/virtualservices.networking.istio.io", purge.Out, StringComparison.Ordinal);
        Assert.EndsWith("would delete Namespace/mesh-system\n", purge.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Install_NoKubeconfig_FailsSuggestingDryRun()
    {
        var result = await MeshTool.RunAsync(["install", "--kubeconfig", "/no/such/kubeconfig"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot use the kubeconfig '/no/such/kubeconfig'", result.Error, StringComparison.Ordinal);
        Assert.Contains("--dry-run", result.Error, StringComparison.Ordinal);
    }

    private static string ClientTag() => Mesh.Cli.Version.VersionCommand.ClientVersion;

    private static async Task<(int Exit, string Out, string Error)> RunKubectlAsync(string input, params string[] args)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
