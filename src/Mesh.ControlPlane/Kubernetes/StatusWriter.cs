using System.Globalization;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>
/// Writes validation results back to the cluster, as Istio users read them with <c>kubectl get vs -o yaml</c>: each
/// Istio resource with an error gets <c>status.validationMessages</c> (Istio's analyzer code IST0106,
/// SchemaValidationError, with the message), and each rejected update of a resource gets a Warning Event. A resource
/// that becomes valid again has its messages cleared. Writes go to the <c>/status</c> subresource and only when the
/// status differs from what the cache holds, so a quiet cluster sees no writes. Only the leader runs this.
/// </summary>
internal sealed partial class StatusWriter(KubernetesConfigSource source, MeshSnapshotProvider provider, string identity, TimeProvider time, ILogger logger)
{
    /// <summary>Istio's analyzer message for a resource that fails validation.</summary>
    public const string ErrorCode = "IST0106";

    private const string ErrorName = "SchemaValidationError";

    /// <summary>resource → the resourceVersion an Event was written for, so each rejected update gets one Event.</summary>
    private readonly Dictionary<string, string> _evented = new(StringComparer.Ordinal);

    /// <summary>How many status writes and Events this writer made.</summary>
    public int Writes { get; private set; }

    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var errors = provider.LastErrors.ToLookup(e => e.Origin, StringComparer.Ordinal);
        foreach (var status in source.Status)
        {
            var kind = status.Kind;
            if (!kind.Group.EndsWith(".istio.io", StringComparison.Ordinal) || status.State != InformerState.Watching)
            {
                continue;
            }

            foreach (var item in source.Objects(kind))
            {
                var metadata = item["metadata"]!;
                var name = metadata["name"]!.GetValue<string>();
                var ns = metadata["namespace"]?.GetValue<string>() ?? "default";
                var origin = $"k8s:{kind.Kind}/{ns}/{name}";
                var messages = new JsonArray();
                foreach (var error in errors[origin])
                {
                    messages.Add(new JsonObject
                    {
                        ["level"] = "ERROR",
                        ["type"] = new JsonObject { ["code"] = ErrorCode, ["name"] = ErrorName },
                        ["description"] = error.Field is null ? error.Message : error.Field + ": " + error.Message,
                        ["documentationUrl"] = "https://istio.io/latest/docs/reference/config/analysis/ist0106/",
                    });
                }

                var current = item["status"]?["validationMessages"] as JsonArray;
                var hasCurrent = current is { Count: > 0 };
                if ((messages.Count == 0 && !hasCurrent) || (hasCurrent && JsonNode.DeepEquals(current, messages)))
                {
                    continue;
                }

                var generation = metadata["generation"]?.DeepClone();
                var patch = new JsonObject
                {
                    ["status"] = new JsonObject
                    {
                        ["observedGeneration"] = generation,
                        ["validationMessages"] = messages.Count == 0 ? null : messages,
                    },
                };
                try
                {
                    using var _ = await source.Api.MergePatchAsync(kind.ObjectPath(ns, name, "status"), patch, cancellationToken).ConfigureAwait(false);
                    Writes++;
                    Log.StatusWritten(logger, origin, messages.Count);
                    var version = metadata["resourceVersion"]?.GetValue<string>() ?? string.Empty;
                    if (messages.Count > 0 && (!_evented.TryGetValue(origin, out var evented) || evented != version))
                    {
                        await WriteEventAsync(kind, item, ns, name, messages, cancellationToken).ConfigureAwait(false);
                        _evented[origin] = version;
                    }
                }
                catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
                {
                    // The object changed or vanished meanwhile, or the server is away: the next round compares again.
                    Log.StatusFailed(logger, origin, ex.Message);
                }
            }
        }
    }

    private async Task WriteEventAsync(KubernetesKind kind, JsonObject item, string ns, string name, JsonArray messages, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var metadata = item["metadata"]!;
        var text = string.Join("; ", messages.Select(m => m!["description"]!.GetValue<string>()));
        var message = $"{kind.Kind} {ns}/{name} rejected, the last good configuration keeps serving: {text}";
        var @event = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["generateName"] = name + ".", ["namespace"] = ns },
            ["involvedObject"] = new JsonObject
            {
                ["apiVersion"] = kind.ApiVersion,
                ["kind"] = kind.Kind,
                ["name"] = name,
                ["namespace"] = ns,
                ["uid"] = metadata["uid"]?.DeepClone(),
                ["resourceVersion"] = metadata["resourceVersion"]?.DeepClone(),
            },
            ["reason"] = "Rejected",
            ["message"] = message.Length > 1024 ? message[..1024] : message,
            ["type"] = "Warning",
            ["source"] = new JsonObject { ["component"] = "mesh-controlplane" },
            ["reportingComponent"] = "mesh-controlplane",
            ["reportingInstance"] = identity,
            ["firstTimestamp"] = now,
            ["lastTimestamp"] = now,
            ["count"] = 1,
        };
        using var _ = await source.Api.SendAsync($"api/v1/namespaces/{ns}/events", HttpMethod.Post, @event, cancellationToken).ConfigureAwait(false);
        Writes++;
        Log.EventWritten(logger, $"k8s:{kind.Kind}/{ns}/{name}");
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Wrote the status of {Resource}: {Count} validation message(s).")]
        public static partial void StatusWritten(ILogger logger, string resource, int count);

        [LoggerMessage(2, LogLevel.Information, "Wrote a Rejected event for {Resource}.")]
        public static partial void EventWritten(ILogger logger, string resource);

        [LoggerMessage(3, LogLevel.Warning, "Writing the status of {Resource} failed; trying again next round: {Message}")]
        public static partial void StatusFailed(ILogger logger, string resource, string message);
    }
}
