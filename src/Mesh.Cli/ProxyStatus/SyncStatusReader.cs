using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.ProxyStatus;

/// <summary>Reads <c>/debug/syncz</c> leniently: unknown fields are ignored, missing ones are derived or left empty.</summary>
internal static class SyncStatusReader
{
    /// <summary>Every client in the document, in the control plane's order.</summary>
    public static IReadOnlyList<ClientSyncStatus> Read(JsonNode document)
    {
        var clients = document as JsonArray ?? Json.At(document, "connections") as JsonArray ?? Json.At(document, "clients") as JsonArray ?? [];
        var result = new List<ClientSyncStatus>();
        foreach (var client in clients)
        {
            var nodeId = Json.Str(client, "nodeId") ?? Json.Str(client, "node", "id");
            if (nodeId is null)
            {
                continue;
            }

            var types = new List<TypeSyncStatus>();
            foreach (var type in Json.Items(client, "types"))
            {
                if (Json.Str(type, "typeUrl") is { } typeUrl)
                {
                    types.Add(ReadType(type!, typeUrl));
                }
            }

            result.Add(new ClientSyncStatus(
                nodeId,
                Json.Str(client, "cluster"),
                Json.Str(client, "namespace"),
                Json.Str(client, "protocol"),
                Json.Str(client, "peer"),
                Json.Str(client, "connectedAt"),
                types));
        }

        return result;
    }

    private static TypeSyncStatus ReadType(JsonNode type, string typeUrl)
    {
        var sent = Json.Str(type, "sentVersion");
        var acked = Json.Str(type, "ackedVersion");
        var nack = Json.Str(type, "lastNack", "message");
        var state = Json.Str(type, "status") switch
        {
            "ACKED" => SyncState.Synced,
            "SENT" => SyncState.Stale,
            "REQUESTED" => SyncState.NotSent,
            "NACKED" => SyncState.Nack,
            _ => Json.Str(type, "lastNack", "nonce") is { } nonce && nonce == Json.Str(type, "sentNonce") ? SyncState.Nack
                : sent is null ? SyncState.NotSent
                : sent == acked ? SyncState.Synced : SyncState.Stale,
        };
        return new TypeSyncStatus(typeUrl, state, sent, acked, nack, Json.Int(type, "resourceCount"));
    }
}
