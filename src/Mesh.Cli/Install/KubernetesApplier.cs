using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Exceptions;
using k8s.Models;
using Mesh.Cli.Output;

namespace Mesh.Cli.Install;

/// <summary>
/// Applies (server-side apply, field manager <c>mesh</c>) or deletes the install's objects through KubernetesClient,
/// with the user's kubeconfig. A CustomResourceDefinition that already exists is left alone: a cluster with Istio keeps
/// Istio's full schemas.
/// </summary>
internal static class KubernetesApplier
{
    private const string FieldManager = "mesh";

    public static async Task ApplyAsync(IReadOnlyList<JsonObject> objects, string? kubeconfig, TextWriter output, CancellationToken cancellationToken)
    {
        using var client = Connect(kubeconfig);
        foreach (var o in objects)
        {
            var (group, version, plural, ns, name, kind) = Describe(o);
            var patch = new V1Patch(o.ToJsonString(), V1Patch.PatchType.ApplyPatch);
            await CallAsync(kind, name, async () =>
            {
                if (kind == "CustomResourceDefinition" && await ExistsAsync(client, group, version, plural, name, cancellationToken).ConfigureAwait(false))
                {
                    output.WriteLine($"{kind}/{name} already installed, kept");
                    return;
                }

                switch (group, kind)
                {
                    case ("", "Namespace"):
                        await client.CoreV1.PatchNamespaceAsync(patch, name, fieldManager: FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                        break;
                    case ("", "ServiceAccount"):
                        await client.CoreV1.PatchNamespacedServiceAccountAsync(patch, name, ns!, fieldManager: FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                        break;
                    case ("", "Service"):
                        await client.CoreV1.PatchNamespacedServiceAsync(patch, name, ns!, fieldManager: FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                        break;
                    case (_, _) when ns is not null:
                        await client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, group, version, ns, plural, name, fieldManager: FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                        break;
                    default:
                        await client.CustomObjects.PatchClusterCustomObjectAsync(patch, group, version, plural, name, fieldManager: FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                        break;
                }

                output.WriteLine($"{kind}/{name} applied");
            }).ConfigureAwait(false);
        }
    }

    public static async Task DeleteAsync(IReadOnlyList<JsonObject> objects, string? kubeconfig, TextWriter output, CancellationToken cancellationToken)
    {
        using var client = Connect(kubeconfig);
        foreach (var o in objects.Reverse())
        {
            var (group, version, plural, ns, name, kind) = Describe(o);
            await CallAsync(kind, name, async () =>
            {
                try
                {
                    switch (group, kind)
                    {
                        case ("", "Namespace"):
                            await client.CoreV1.DeleteNamespaceAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
                            break;
                        case ("", "ServiceAccount"):
                            await client.CoreV1.DeleteNamespacedServiceAccountAsync(name, ns!, cancellationToken: cancellationToken).ConfigureAwait(false);
                            break;
                        case ("", "Service"):
                            await client.CoreV1.DeleteNamespacedServiceAsync(name, ns!, cancellationToken: cancellationToken).ConfigureAwait(false);
                            break;
                        case (_, _) when ns is not null:
                            await client.CustomObjects.DeleteNamespacedCustomObjectAsync(group, version, ns, plural, name, cancellationToken: cancellationToken).ConfigureAwait(false);
                            break;
                        default:
                            await client.CustomObjects.DeleteClusterCustomObjectAsync(group, version, plural, name, cancellationToken: cancellationToken).ConfigureAwait(false);
                            break;
                    }

                    output.WriteLine($"{kind}/{name} deleted");
                }
                catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
                {
                    output.WriteLine($"{kind}/{name} not found");
                }
            }).ConfigureAwait(false);
        }
    }

    /// <summary>The REST plural of a kind the install writes.</summary>
    public static string Plural(string kind) => kind switch
    {
        "PodDisruptionBudget" => "poddisruptionbudgets",
        "MutatingWebhookConfiguration" => "mutatingwebhookconfigurations",
        "CustomResourceDefinition" => "customresourcedefinitions",
        "ClusterRoleBinding" => "clusterrolebindings",
        "ClusterRole" => "clusterroles",
        "RoleBinding" => "rolebindings",
        "Role" => "roles",
        "Deployment" => "deployments",
        _ => kind.ToLowerInvariant() + "s",
    };

    private static Kubernetes Connect(string? kubeconfig)
    {
        try
        {
            return new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        }
        catch (Exception ex) when (ex is KubeConfigException or FileNotFoundException or IOException)
        {
            throw new CliException($"cannot use the kubeconfig{(kubeconfig is null ? string.Empty : $" '{kubeconfig}'")}: {ex.Message} (print the manifests instead with --dry-run).", CliException.Failure, ex);
        }
    }

    private static async Task<bool> ExistsAsync(Kubernetes client, string group, string version, string plural, string name, CancellationToken cancellationToken)
    {
        try
        {
            await client.CustomObjects.GetClusterCustomObjectAsync(group, version, plural, name, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    private static async Task CallAsync(string kind, string name, Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (HttpOperationException ex)
        {
            throw new CliException($"{kind}/{name}: the API server answered {(int)ex.Response.StatusCode}: {ex.Response.Content}", CliException.Failure, ex);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"{kind}/{name}: cannot reach the API server: {ex.Message}", CliException.Failure, ex);
        }
    }

    private static (string Group, string Version, string Plural, string? Namespace, string Name, string Kind) Describe(JsonObject o)
    {
        var apiVersion = Json.Str(o, "apiVersion")!;
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        var kind = Json.Str(o, "kind")!;
        return (slash < 0 ? string.Empty : apiVersion[..slash], slash < 0 ? apiVersion : apiVersion[(slash + 1)..], Plural(kind), Json.Str(o, "metadata", "namespace"), Json.Str(o, "metadata", "name")!, kind);
    }
}
