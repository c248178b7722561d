namespace Mesh.Cli.ProxyStatus;

/// <summary>
/// Finds the connected client a user means: the exact node id (<c>productpage-v1.default</c>), the workload without its
/// namespace (<c>productpage-v1</c>), or an Envoy node's pod (<c>sidecar~10.0.0.1~productpage-v1-abc.default~…</c>).
/// </summary>
internal static class WorkloadMatcher
{
    /// <summary>The one node id <paramref name="name"/> means; throws a <see cref="CliException"/> naming the choices otherwise.</summary>
    public static string Resolve(IReadOnlyList<ClientSyncStatus> clients, string name)
    {
        var ids = clients.Select(c => c.NodeId).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Contains(name, StringComparer.Ordinal))
        {
            return name;
        }

        var matches = ids.Where(id => Matches(id, name)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new CliException(ids.Count == 0
                ? $"no client is connected to the control plane, so none is '{name}'."
                : $"no connected client matches '{name}'. Connected: {string.Join(", ", ids.Order(StringComparer.Ordinal))}."),
            _ => throw new CliException($"'{name}' matches several clients: {string.Join(", ", matches.Order(StringComparer.Ordinal))}; give the full node id."),
        };
    }

    private static bool Matches(string nodeId, string name)
    {
        if (nodeId.StartsWith(name + ".", StringComparison.Ordinal))
        {
            return true;
        }

        // Envoy: sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local
        var parts = nodeId.Split('~');
        if (parts.Length == 4)
        {
            var pod = parts[2];
            return pod == name || pod.StartsWith(name + ".", StringComparison.Ordinal) || pod.StartsWith(name + "-", StringComparison.Ordinal);
        }

        return false;
    }
}
