using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.Install;

/// <summary><c>mesh install</c> and <c>mesh uninstall</c>: the control plane on Kubernetes, or its manifests with <c>--dry-run</c>.</summary>
internal static class InstallCommand
{
    public static Command Create(GlobalOptions global) => CreateCore(global, uninstall: false);

    public static Command CreateUninstall(GlobalOptions global) => CreateCore(global, uninstall: true);

    /// <summary>The objects as multi-document YAML, the way kubectl reads them.</summary>
    public static string ToYaml(IReadOnlyList<JsonObject> objects)
    {
        var text = new StringBuilder();
        foreach (var o in objects)
        {
            text.Append("---\n").Append(StructuredOutput.ToYaml(o));
        }

        return text.ToString();
    }

    private static Command CreateCore(GlobalOptions global, bool uninstall)
    {
        var dryRun = new Option<bool>("--dry-run") { Description = uninstall ? "Print what would be deleted, delete nothing" : "Print the manifests, apply nothing" };
        var profile = new Option<string>("--profile") { Description = "default (2 replicas, PodDisruptionBudget) or demo (1 replica, small requests)", DefaultValueFactory = _ => "default" };
        profile.AcceptOnlyFromAmong("default", "demo");
        var revision = new Option<string?>("--revision", "-r") { Description = "Install side by side as this revision (objects named …-REV, selected by istio.io/rev=REV)", HelpName = "REV" };
        var set = new Option<string[]>("--set") { Description = $"Override a setting, key=value (repeatable): {string.Join(", ", InstallSettings.Keys.Keys)}", HelpName = "KEY=VALUE" };
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "The kubeconfig (default: $KUBECONFIG, else ~/.kube/config)", HelpName = "FILE" };
        var purge = new Option<bool>("--purge") { Description = "Also delete the CustomResourceDefinitions (and with them every Istio resource in the cluster)" };
        var command = uninstall
            ? new Command("uninstall", "Remove the control plane from Kubernetes (CRDs stay unless --purge)") { dryRun, revision, set, kubeconfig, purge }
            : new Command("install", "Install the control plane on Kubernetes: namespace, CRDs, RBAC, Deployment, Service, PodDisruptionBudget, injection webhook")
            {
                dryRun, profile, revision, set, kubeconfig,
            };
        command.SetAction(async (result, cancellationToken) =>
        {
            var settings = InstallSettings.Create(uninstall ? "default" : result.GetValue(profile)!, result.GetValue(revision), result.GetValue(set) ?? [], Version.VersionCommand.ClientVersion);
            var objects = InstallManifests.Build(settings);
            if (uninstall && !result.GetValue(purge))
            {
                objects = [.. objects.Where(o => Json.Str(o, "kind") != "CustomResourceDefinition")];
            }

            if (uninstall && settings.Revision is not null)
            {
                // A revision shares the namespace with the others.
                objects = [.. objects.Where(o => Json.Str(o, "kind") != "Namespace")];
            }

            if (result.GetValue(dryRun))
            {
                if (uninstall)
                {
                    foreach (var o in objects.Reverse())
                    {
                        global.Context.Out.WriteLine($"would delete {Json.Str(o, "kind")}/{Json.Str(o, "metadata", "name")}");
                    }
                }
                else
                {
                    global.Context.Out.Write(global.GetOutput(result) == OutputFormat.Json
                        ? new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = new JsonArray([.. objects]) }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n"
                        : ToYaml(objects));
                }

                return 0;
            }

            var config = result.GetValue(kubeconfig) ?? global.Context.GetVariable("KUBECONFIG");
            if (uninstall)
            {
                await KubernetesApplier.DeleteAsync(objects, config, global.Context.Out, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await KubernetesApplier.ApplyAsync(objects, config, global.Context.Out, cancellationToken).ConfigureAwait(false);
                global.Context.Out.WriteLine($"Mesh is installed in namespace {settings.Namespace}. Label a namespace for injection: kubectl label namespace default istio-injection=enabled");
            }

            return 0;
        });
        return command;
    }
}
