using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>What /debug/configz, /debug/syncz and /healthz/ready say about the Kubernetes source.</summary>
internal static class KubernetesDebug
{
    /// <summary>The /debug/syncz response header that says whether the configuration follows the cluster.</summary>
    public const string SyncHeader = "Mesh-Kubernetes-Sync";

    /// <summary>The <c>kubernetes</c> section of /debug/configz: every kind's informer, and the missing and forbidden kinds by name.</summary>
    public static JsonObject Describe(KubernetesConfigSource source)
    {
        var kinds = new JsonArray();
        var missing = new JsonArray();
        var forbidden = new JsonArray();
        foreach (var status in source.Status)
        {
            kinds.Add(new JsonObject
            {
                ["kind"] = status.Kind.Kind,
                ["apiVersion"] = status.Kind.ApiVersion,
                ["resource"] = status.Kind.Resource,
                ["state"] = status.State.ToString(),
                ["objects"] = status.Objects,
                ["resourceVersion"] = status.ResourceVersion,
                ["since"] = status.Since.ToString("O"),
                ["lastError"] = status.LastError,
                ["lists"] = status.Relists,
                ["published"] = status.Kind.Published,
            });
            if (status.State == InformerState.Missing)
            {
                missing.Add(status.Kind.Resource);
            }
            else if (status.State == InformerState.Forbidden)
            {
                forbidden.Add(status.Kind.Resource);
            }
        }

        return new JsonObject
        {
            ["server"] = source.Server,
            ["inSync"] = source.InSync,
            ["lastSynced"] = source.LastSynced?.ToString("O"),
            ["leader"] = source.Leader is { } leader
                ? new JsonObject { ["identity"] = leader.Identity, ["leading"] = leader.IsLeader, ["statusWrites"] = leader.StatusWrites }
                : null,
            ["missingKinds"] = missing,
            ["forbiddenKinds"] = forbidden,
            ["kinds"] = kinds,
        };
    }

    /// <summary>
    /// /healthz/ready with a cluster: not ready until every kind has answered once; after that ready, also while the API
    /// server cannot be reached (the last good snapshot keeps serving, and the answer says so) — a replica cut off from
    /// the API server still serves every client its last good configuration, which beats serving none.
    /// </summary>
    public static IResult Ready(KubernetesConfigSource source, long version)
    {
        if (!source.HasSynced)
        {
            var waiting = string.Join(", ", source.Status.Where(s => s.State is InformerState.Starting or InformerState.Disconnected).Select(s => s.Kind.Resource));
            return Results.Text($"not ready: waiting for the first list from {source.Server} of {waiting}", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return source.InSync
            ? Results.Text("ok")
            : Results.Text($"ok: serving configuration version {version}, the last good one; {SyncSummary(source)}");
    }

    /// <summary><paramref name="text"/> with anything a header value may not hold replaced by '?'.</summary>
    public static string HeaderSafe(string text) => string.Create(text.Length, text, (span, source) =>
    {
        for (var i = 0; i < source.Length; i++)
        {
            span[i] = source[i] is >= ' ' and <= '~' ? source[i] : '?';
        }
    });

    /// <summary>One line: in sync, or out of sync since when and why.</summary>
    public static string SyncSummary(KubernetesConfigSource source)
    {
        if (source.InSync)
        {
            return "in-sync";
        }

        var failing = source.Status.Where(s => s.State is InformerState.Disconnected or InformerState.Starting).ToList();
        var error = failing.Select(s => s.LastError).FirstOrDefault(e => e is not null) ?? "no answer yet";
        return $"out-of-sync since {source.LastSynced?.ToString("O") ?? "start"} ({failing.Count} kinds): {error}";
    }
}
