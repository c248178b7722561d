using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Xds;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>
/// The clients the dashboard lists: every connected one, and the ones that went away in the last
/// <see cref="DashboardLimits.DisconnectedClientRetention"/> (at most <see cref="DashboardLimits.MaxRememberedClients"/>),
/// so a client that dropped shows as disconnected rather than vanishing. Not thread-safe: the caller serializes calls.
/// </summary>
internal sealed class ClientRoster
{
    private readonly Dictionary<string, DashboardClient> _gone = new(StringComparer.Ordinal);
    private Dictionary<string, DashboardClient> _connected = new(StringComparer.Ordinal);

    /// <summary>The clients now: <paramref name="connections"/>, then the recently disconnected, each ordered by node id.</summary>
    public IReadOnlyList<DashboardClient> Update(IReadOnlyList<XdsConnection> connections, DateTimeOffset now)
    {
        var connected = new Dictionary<string, DashboardClient>(StringComparer.Ordinal);
        foreach (var connection in connections)
        {
            var client = From(connection);
            if (connected.TryGetValue(client.NodeId, out var other) && other.ConnectedAt > client.ConnectedAt)
            {
                continue; // two streams from one node id: show the newer.
            }

            connected[client.NodeId] = client;
            _gone.Remove(client.NodeId);
        }

        foreach (var (id, client) in _connected)
        {
            if (!connected.ContainsKey(id))
            {
                _gone[id] = client with { DisconnectedAt = now };
            }
        }

        _connected = connected;
        foreach (var id in _gone.Where(g => now - g.Value.DisconnectedAt > DashboardLimits.DisconnectedClientRetention).Select(g => g.Key).ToList())
        {
            _gone.Remove(id);
        }

        if (_gone.Count > DashboardLimits.MaxRememberedClients)
        {
            foreach (var id in _gone.OrderBy(g => g.Value.DisconnectedAt).Take(_gone.Count - DashboardLimits.MaxRememberedClients).Select(g => g.Key).ToList())
            {
                _gone.Remove(id);
            }
        }

        return [.. connected.Values.OrderBy(c => c.NodeId, StringComparer.Ordinal), .. _gone.Values.OrderBy(c => c.NodeId, StringComparer.Ordinal)];
    }

    /// <summary>What the dashboard shows of one connection.</summary>
    internal static DashboardClient From(XdsConnection connection)
    {
        var node = connection.Node;
        var workload = node is null ? "" : LoadReportStore.Source(node).Workload;
        return new DashboardClient(
            node?.Id ?? "connection-" + connection.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            connection.Namespace,
            workload,
            connection.Protocol,
            connection.Peer,
            connection.ConnectedAt,
            DisconnectedAt: null,
            connection.Status);
    }
}
