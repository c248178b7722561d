using System.Collections.Concurrent;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// The process's clusters, shared by every gRPC channel and HttpClient of the application (one per
/// <c>AddMesh()</c> service provider): today each cluster's circuit-breaker count (A32 — "max_requests" limits the
/// requests in flight to a cluster from the whole client, not per channel). Entries live as long as the registry; a
/// process has as many as the clusters it ever called.
/// </summary>
internal sealed class ClusterRegistry
{
    private readonly ConcurrentDictionary<string, ClusterCounter> _counters = new(StringComparer.Ordinal);

    /// <summary>Creates the registry; <paramref name="loads"/> is the process's load reporting (none in some tests).</summary>
    public ClusterRegistry(LoadReporting.LoadReporter? loads = null) => Loads = loads;

    /// <summary>The process's load reporting (gRFC A27), shared like the counters; null when there is none.</summary>
    public LoadReporting.LoadReporter? Loads { get; }

    /// <summary>The cluster's one counter, with its limit set to <paramref name="maxRequests"/> (the latest configuration wins).</summary>
    public ClusterCounter Counter(string cluster, uint maxRequests)
    {
        var counter = _counters.GetOrAdd(cluster, static (_, max) => new ClusterCounter(max), maxRequests);
        counter.MaxRequests = maxRequests;
        return counter;
    }
}
