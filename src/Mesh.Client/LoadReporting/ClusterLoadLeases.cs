using Mesh.Client.Resources;

namespace Mesh.Client.LoadReporting;

/// <summary>
/// The cluster loads one user of clusters (a gRPC channel's balancer, an HttpClient target) holds: one per cluster whose
/// configuration asks for load reporting, taken when the configuration arrives and given back when the cluster goes away,
/// stops asking, or the user is disposed. Not thread-safe: its owner calls it under its own lock.
/// </summary>
internal sealed class ClusterLoadLeases(LoadReporter? reporter) : IDisposable
{
    private readonly Dictionary<string, ClusterLoad> _held = new(StringComparer.Ordinal);

    /// <summary>
    /// The load of <paramref name="cluster"/> when its configuration asks for load reporting (and a reporter exists),
    /// else null; a lease this owner held for the cluster's name under another configuration is given back.
    /// </summary>
    public ClusterLoad? Use(string name, ClusterResource? cluster)
    {
        var wanted = reporter is not null && cluster is { ReportsLoad: true };
        var service = cluster is null || cluster.EdsServiceName == name ? string.Empty : cluster.EdsServiceName;
        if (_held.TryGetValue(name, out var held))
        {
            if (wanted && held.ServiceName == service)
            {
                return held;
            }

            _held.Remove(name);
            reporter!.Release(held);
        }

        if (!wanted)
        {
            return null;
        }

        var load = reporter!.Acquire(name, service);
        _held.Add(name, load);
        return load;
    }

    /// <summary>Gives back the lease for cluster <paramref name="name"/>, if one is held.</summary>
    public void Remove(string name)
    {
        if (_held.Remove(name, out var held))
        {
            reporter!.Release(held);
        }
    }

    /// <summary>Gives back every lease whose cluster is not in <paramref name="keep"/>.</summary>
    public void RemoveExcept(IReadOnlySet<string> keep)
    {
        if (_held.Count == 0)
        {
            return;
        }

        foreach (var name in _held.Keys.ToArray())
        {
            if (!keep.Contains(name))
            {
                Remove(name);
            }
        }
    }

    /// <summary>Gives back every lease.</summary>
    public void Dispose()
    {
        foreach (var held in _held.Values)
        {
            reporter!.Release(held);
        }

        _held.Clear();
    }
}
