using Mesh.Cli.ControlPlane;
using Mesh.Cli.Output;
using Mesh.Cli.ProxyStatus;

namespace Mesh.Cli.ProxyConfig;

/// <summary>Reads a client's configuration from the control plane's <c>/debug/config_dump?node=ID</c>.</summary>
internal static class ControlPlaneConfigReader
{
    /// <summary>Resolves <paramref name="workload"/> among the connected clients and reads what was sent to it.</summary>
    public static async Task<ProxyConfigDump> ReadAsync(ControlPlaneClient client, string workload, CancellationToken cancellationToken)
    {
        var clients = SyncStatusReader.Read((await client.GetJsonAsync("debug/syncz", cancellationToken).ConfigureAwait(false))!);
        var nodeId = WorkloadMatcher.Resolve(clients, workload);
        var states = clients.Where(c => c.NodeId == nodeId).SelectMany(c => c.Types)
            .GroupBy(t => t.TypeUrl).ToDictionary(g => g.Key, g => ProxyStatusCommand.Display(g.Last().State), StringComparer.Ordinal);
        var dump = await client.GetJsonAsync("debug/config_dump?node=" + Uri.EscapeDataString(nodeId), cancellationToken, notFoundIsNull: true).ConfigureAwait(false)
            ?? throw new CliException($"'{nodeId}' disconnected from the control plane at {client.BaseAddress} before its configuration could be read.");
        var resources = new List<ProxyResource>();
        foreach (var (typeUrl, type) in Json.Properties(dump, "types"))
        {
            foreach (var resource in Json.Items(type, "resources"))
            {
                if (Json.Str(resource, "name") is { } name)
                {
                    resources.Add(new ProxyResource(typeUrl, name, Json.Str(resource, "version"), states.GetValueOrDefault(typeUrl), Json.At(resource, "resource")?.DeepClone()));
                }
            }
        }

        return new ProxyConfigDump(nodeId, client.BaseAddress.ToString(), resources);
    }
}
