using System.Globalization;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.GatewayApi;
using Mesh.ControlPlane.Model;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>
/// Writes validation results back to the cluster, as Istio users read them with <c>kubectl get vs -o yaml</c>: each
/// Istio resource with an error gets <c>status.validationMessages</c> (Istio's analyzer code IST0106,
/// SchemaValidationError, with the message), and each rejected update of a resource gets a Warning Event. A resource
/// that becomes valid again has its messages cleared. Writes go to the <c>/status</c> subresource and only when the
/// status differs from what the cache holds, so a quiet cluster sees no writes. Only the leader runs this.
/// The Gateway API resources Mesh controls get the status the conversion computed (<see cref="GatewayApiStatus"/>):
/// conditions stamped with a transition time when they change, and a route's <c>status.parents</c> entries of other
/// controllers kept as they are.
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
        await ReconcileIstioAsync(cancellationToken).ConfigureAwait(false);
        await ReconcileGatewayApiAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task ReconcileIstioAsync(CancellationToken cancellationToken)
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

    private async Task ReconcileGatewayApiAsync(CancellationToken cancellationToken)
    {
        var computed = new Dictionary<string, GatewayApiStatus>(StringComparer.Ordinal);
        foreach (var status in provider.LastGatewayApiStatuses)
        {
            computed[status.Origin] = status;
        }

        var now = time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        foreach (var informer in source.Status)
        {
            var kind = informer.Kind;
            if (kind.Group != GatewayApiNames.Group || informer.State != InformerState.Watching)
            {
                continue;
            }

            var isRoute = kind.Kind is "HTTPRoute" or "GRPCRoute";
            foreach (var item in source.Objects(kind))
            {
                var metadata = item["metadata"]!;
                var name = metadata["name"]!.GetValue<string>();
                var ns = kind.Namespaced ? metadata["namespace"]?.GetValue<string>() ?? "default" : null;
                var origin = ns is null ? $"k8s:{kind.Kind}/{name}" : $"k8s:{kind.Kind}/{ns}/{name}";
                var current = item["status"] as JsonObject;
                JsonObject desired;
                if (computed.TryGetValue(origin, out var entry))
                {
                    desired = isRoute ? DesiredRouteStatus(entry.Status, current, now) : DesiredStatus(entry.Status, current, now);
                }
                else if (isRoute && OwnParents(current) > 0)
                {
                    // No parent of Mesh's any more: remove Mesh's entries, keep the others'.
                    desired = DesiredRouteStatus(new JsonObject { ["parents"] = new JsonArray() }, current, now);
                }
                else
                {
                    continue;
                }

                if (Unchanged(desired, current))
                {
                    continue;
                }

                try
                {
                    using var _ = await source.Api.MergePatchAsync(kind.ObjectPath(ns, name, "status"), new JsonObject { ["status"] = desired }, cancellationToken).ConfigureAwait(false);
                    Writes++;
                    Log.GatewayApiStatusWritten(logger, origin);
                }
                catch (Exception ex) when (ex is k8s.Autorest.HttpOperationException or HttpRequestException or IOException)
                {
                    Log.StatusFailed(logger, origin, ex.Message);
                }
            }
        }
    }

    private static bool IsOwnController(JsonNode? parent) =>
        parent?["controllerName"]?.GetValue<string>() is GatewayApiNames.GatewayController or GatewayApiNames.MeshController;

    private static int OwnParents(JsonObject? status) => (status?["parents"] as JsonArray)?.Count(IsOwnController) ?? 0;

    /// <summary>Every key of <paramref name="desired"/> is already what <paramref name="current"/> holds.</summary>
    private static bool Unchanged(JsonObject desired, JsonObject? current)
    {
        foreach (var (key, value) in desired)
        {
            if (!JsonNode.DeepEquals(value, current?[key]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A Gateway's or GatewayClass's status: the computed keys, each condition keeping its time while it holds.</summary>
    private static JsonObject DesiredStatus(JsonObject computed, JsonObject? current, string now)
    {
        var desired = (JsonObject)computed.DeepClone();
        StampConditions(desired["conditions"] as JsonArray, current?["conditions"] as JsonArray, now);
        foreach (var listener in desired["listeners"] as JsonArray ?? [])
        {
            var previous = (current?["listeners"] as JsonArray)?.FirstOrDefault(l => l?["name"]?.GetValue<string>() == listener!["name"]!.GetValue<string>());
            StampConditions(listener!["conditions"] as JsonArray, previous?["conditions"] as JsonArray, now);
        }

        return desired;
    }

    /// <summary>A route's status: the other controllers' parents as they are, then Mesh's, each condition keeping its time while it holds.</summary>
    private static JsonObject DesiredRouteStatus(JsonObject computed, JsonObject? current, string now)
    {
        var parents = new JsonArray();
        var previous = current?["parents"] as JsonArray ?? [];
        foreach (var parent in previous)
        {
            if (!IsOwnController(parent))
            {
                parents.Add(parent?.DeepClone());
            }
        }

        foreach (var parent in computed["parents"] as JsonArray ?? [])
        {
            var copy = (JsonObject)parent!.DeepClone();
            var before = previous.FirstOrDefault(p => IsOwnController(p) && JsonNode.DeepEquals(p?["parentRef"], copy["parentRef"]) && JsonNode.DeepEquals(p?["controllerName"], copy["controllerName"]));
            StampConditions(copy["conditions"] as JsonArray, before?["conditions"] as JsonArray, now);
            parents.Add(copy);
        }

        return new JsonObject { ["parents"] = parents };
    }

    /// <summary>Gives each condition the time it last changed: the previous one's when its status is the same, else now.</summary>
    private static void StampConditions(JsonArray? conditions, JsonArray? previous, string now)
    {
        foreach (var condition in conditions ?? [])
        {
            var type = condition!["type"]!.GetValue<string>();
            var before = previous?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == type);
            condition["lastTransitionTime"] = before is not null && before["status"]?.GetValue<string>() == condition["status"]!.GetValue<string>()
                && before["lastTransitionTime"] is { } time
                ? time.DeepClone()
                : now;
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

        [LoggerMessage(4, LogLevel.Information, "Wrote the Gateway API status of {Resource}.")]
        public static partial void GatewayApiStatusWritten(ILogger logger, string resource);
    }
}
