using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// What a pod is part of, read from the pod at admission (its name is usually not known yet): the workload name as
/// Istio derives it (the Deployment of a ReplicaSet-owned pod, else the owner, else the generate name), its labels,
/// service account and canonical service name and revision.
/// </summary>
internal sealed record PodWorkload(string Name, string Namespace, string ServiceAccount, IReadOnlyDictionary<string, string> Labels)
{
    /// <summary>The canonical service (<c>service.istio.io/canonical-name</c>): that label, else <c>app.kubernetes.io/name</c>, <c>app</c>, the workload.</summary>
    public string CanonicalName =>
        Labels.TryGetValue("service.istio.io/canonical-name", out var n) ? n
        : Labels.TryGetValue("app.kubernetes.io/name", out n) ? n
        : Labels.TryGetValue("app", out n) ? n
        : Name;

    /// <summary>The canonical revision: that label, else <c>app.kubernetes.io/version</c>, <c>version</c>, <c>latest</c>.</summary>
    public string CanonicalRevision =>
        Labels.TryGetValue("service.istio.io/canonical-revision", out var r) ? r
        : Labels.TryGetValue("app.kubernetes.io/version", out r) ? r
        : Labels.TryGetValue("version", out r) ? r
        : "latest";

    public static PodWorkload Read(JsonObject pod, string @namespace)
    {
        var metadata = pod["metadata"] as JsonObject;
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata?["labels"] is JsonObject labelObject)
        {
            foreach (var (key, value) in labelObject)
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var text))
                {
                    labels[key] = text;
                }
            }
        }

        var serviceAccount = pod["spec"]?["serviceAccountName"] is JsonValue sa && sa.TryGetValue<string>(out var saName) && saName.Length > 0 ? saName : "default";
        return new PodWorkload(WorkloadName(metadata, labels), @namespace, serviceAccount, labels);
    }

    private static string WorkloadName(JsonObject? metadata, Dictionary<string, string> labels)
    {
        string? owner = null, ownerKind = null;
        if (metadata?["ownerReferences"] is JsonArray owners)
        {
            foreach (var reference in owners)
            {
                if (reference?["controller"] is JsonValue controller && controller.TryGetValue<bool>(out var isController) && isController)
                {
                    owner = reference["name"]?.GetValue<string>();
                    ownerKind = reference["kind"]?.GetValue<string>();
                    break;
                }
            }
        }

        var generateName = metadata?["generateName"]?.GetValue<string>();
        if (owner is null && generateName is { Length: > 1 } && generateName.EndsWith('-'))
        {
            owner = generateName[..^1];
            ownerKind = labels.ContainsKey("pod-template-hash") ? "ReplicaSet" : null;
        }

        if (owner is not null)
        {
            // A ReplicaSet of a Deployment is named <deployment>-<pod-template-hash>.
            if (ownerKind == "ReplicaSet" && labels.TryGetValue("pod-template-hash", out var hash) && owner.EndsWith("-" + hash, StringComparison.Ordinal))
            {
                return owner[..^(hash.Length + 1)];
            }

            return owner;
        }

        return metadata?["name"]?.GetValue<string>() is { Length: > 0 } name ? name : "unknown";
    }
}
