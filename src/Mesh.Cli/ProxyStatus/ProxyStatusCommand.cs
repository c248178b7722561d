using System.CommandLine;
using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.ProxyStatus;

/// <summary><c>mesh proxy-status [workload]</c>: every connected client and how far each xDS type is synced.</summary>
internal static class ProxyStatusCommand
{
    public static Command Create(GlobalOptions global)
    {
        var workload = WorkloadArgument.Create("A connected client (node id, or workload name without the namespace); shows its per-type detail");
        var command = new Command("proxy-status", "Show every connected xDS client with its sync state per type (SYNCED, NOT SENT, STALE, NACK)")
        {
            workload,
        };
        command.Aliases.Add("ps");
        command.SetAction(async (result, cancellationToken) =>
        {
            using var client = global.ConnectControlPlane(result);
            var document = await client.GetJsonAsync("debug/syncz", cancellationToken).ConfigureAwait(false);
            var clients = SyncStatusReader.Read(document!);
            var output = global.Context.Out;
            var format = global.GetOutput(result);
            if (result.GetValue(workload) is { } name)
            {
                var nodeId = WorkloadMatcher.Resolve(clients, name);
                clients = [.. clients.Where(c => c.NodeId == nodeId)];
                if (format == OutputFormat.Table)
                {
                    WriteDetail(output, clients);
                    return 0;
                }
            }

            if (format != OutputFormat.Table)
            {
                StructuredOutput.Write(output, ToJson(clients), format);
            }
            else if (clients.Count == 0)
            {
                output.WriteLine($"No xDS client is connected to the control plane at {client.BaseAddress}.");
            }
            else
            {
                WriteTable(output, clients);
            }

            return 0;
        });
        return command;
    }

    /// <summary>The state as istioctl prints it.</summary>
    public static string Display(SyncState state) => state switch
    {
        SyncState.Synced => "SYNCED",
        SyncState.Stale => "STALE",
        SyncState.Nack => "NACK",
        _ => "NOT SENT",
    };

    private static void WriteTable(TextWriter output, IReadOnlyList<ClientSyncStatus> clients)
    {
        var table = new Table(["NAME", "NAMESPACE", .. XdsTypes.StatusColumns, "PROTOCOL", "PEER"]);
        foreach (var client in clients.OrderBy(c => c.NodeId, StringComparer.Ordinal))
        {
            table.Add([client.NodeId, client.Namespace, .. XdsTypes.StatusColumns.Select(t => Display(client.StateOf(t))), client.Protocol, client.Peer]);
        }

        table.WriteTo(output);
        var nacks = clients.SelectMany(c => c.Types.Where(t => t.State == SyncState.Nack).Select(t => (c.NodeId, t))).ToList();
        if (nacks.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("NACKs (the client kept its last good version):");
            foreach (var (nodeId, type) in nacks)
            {
                output.WriteLine($"  {nodeId} {type.ShortName}: {type.NackReason}");
            }
        }
    }

    private static void WriteDetail(TextWriter output, IReadOnlyList<ClientSyncStatus> clients)
    {
        foreach (var client in clients)
        {
            output.WriteLine($"Node:      {client.NodeId}");
            output.WriteLine($"Namespace: {client.Namespace ?? "-"}");
            output.WriteLine($"Protocol:  {client.Protocol ?? "-"}   Peer: {client.Peer ?? "-"}   Connected: {client.ConnectedAt ?? "-"}");
            output.WriteLine();
            var table = new Table("TYPE", "STATE", "SENT", "ACKED", "RESOURCES", "NACK REASON");
            foreach (var type in client.Types.OrderBy(t => Array.IndexOf(XdsTypes.StatusColumns, t.ShortName) is var i && i < 0 ? int.MaxValue : i))
            {
                table.Add(type.ShortName, Display(type.State), type.SentVersion, type.AckedVersion, type.ResourceCount?.ToString(System.Globalization.CultureInfo.InvariantCulture), type.State == SyncState.Nack ? type.NackReason : null);
            }

            table.WriteTo(output);
        }
    }

    private static JsonArray ToJson(IReadOnlyList<ClientSyncStatus> clients) =>
    [
        .. clients.Select(c => (JsonNode)new JsonObject
        {
            ["name"] = c.NodeId,
            ["cluster"] = c.Cluster,
            ["namespace"] = c.Namespace,
            ["protocol"] = c.Protocol,
            ["peer"] = c.Peer,
            ["connectedAt"] = c.ConnectedAt,
            ["types"] = new JsonObject(c.Types.Select(t => KeyValuePair.Create(t.ShortName, (JsonNode?)new JsonObject
            {
                ["typeUrl"] = t.TypeUrl,
                ["state"] = Display(t.State),
                ["sentVersion"] = t.SentVersion,
                ["ackedVersion"] = t.AckedVersion,
                ["resources"] = t.ResourceCount,
                ["nack"] = t.State == SyncState.Nack ? t.NackReason : null,
            }))),
        }),
    ];
}
