using System.Collections.Concurrent;
using Envoy.Config.Endpoint.V3;

namespace Mesh.Client.LoadReporting;

/// <summary>
/// The load this process sends to one cluster (and EDS service name) with load reporting on: its localities' counters and
/// the calls it dropped (circuit breaker). Shared by every channel and HttpClient of the process; kept by the
/// <see cref="LoadReporter"/> while any of them uses the cluster, and until its last counts are reported.
/// </summary>
internal sealed class ClusterLoad
{
    private readonly ConcurrentDictionary<(string Region, string Zone, string SubZone), LocalityLoad> _localities = new();
    private long _dropped;

    /// <summary>Creates the load of <paramref name="clusterName"/>.</summary>
    /// <param name="clusterName">The cluster's name.</param>
    /// <param name="serviceName">The EDS service name when it differs from the cluster's name, else empty.</param>
    /// <param name="createdAt">When counting began (a <see cref="TimeProvider"/> timestamp).</param>
    public ClusterLoad(string clusterName, string serviceName, long createdAt)
    {
        ClusterName = clusterName;
        ServiceName = serviceName;
        LastReportAt = createdAt;
    }

    /// <summary>The cluster's name.</summary>
    public string ClusterName { get; }

    /// <summary>The EDS service name the report names, or empty.</summary>
    public string ServiceName { get; }

    /// <summary>Channels and HttpClient targets using the cluster with load reporting on (under the reporter's lock).</summary>
    internal int References { get; set; }

    /// <summary>When the cluster's load was last reported (a <see cref="TimeProvider"/> timestamp; under the reporter's lock).</summary>
    internal long LastReportAt { get; set; }

    /// <summary>The counters of a locality, created on first use (when configuration arrives, never per call).</summary>
    public LocalityLoad Locality(string region, string zone, string subZone) =>
        _localities.GetOrAdd((region, zone, subZone), static (key, cluster) => new LocalityLoad(cluster, new Envoy.Config.Core.V3.Locality
        {
            Region = key.Region,
            Zone = key.Zone,
            SubZone = key.SubZone,
        }), this);

    /// <summary>Whether a call to the cluster is still in progress.</summary>
    public bool HasInProgress()
    {
        foreach (var locality in _localities.Values)
        {
            if (locality.InProgress > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A call was dropped before it was sent (the circuit breaker's limit).</summary>
    public void RecordDrop() => Interlocked.Increment(ref _dropped);

    /// <summary>
    /// Takes the cluster's counts since the last report into a <see cref="ClusterStats"/> covering <paramref name="interval"/>;
    /// null when there was no load. What was taken is added to <paramref name="taken"/>, to be restored if the report fails.
    /// </summary>
    public ClusterStats? Drain(TimeSpan interval, List<(LocalityLoad Locality, LocalityLoadDelta Delta)> taken, out long dropped)
    {
        ClusterStats? stats = null;
        foreach (var locality in _localities.Values)
        {
            if (locality.Drain(out var localityStats, out var delta))
            {
                stats ??= New(interval);
                stats.UpstreamLocalityStats.Add(localityStats);
                taken.Add((locality, delta));
            }
        }

        dropped = Interlocked.Exchange(ref _dropped, 0);
        if (dropped > 0)
        {
            stats ??= New(interval);
            stats.TotalDroppedRequests = (ulong)dropped;
        }

        return stats;
    }

    /// <summary>Puts back drops taken by <see cref="Drain"/> whose report could not be sent.</summary>
    public void RestoreDrops(long dropped) => Interlocked.Add(ref _dropped, dropped);

    private ClusterStats New(TimeSpan interval) => new()
    {
        ClusterName = ClusterName,
        ClusterServiceName = ServiceName,
        LoadReportInterval = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(interval),
    };
}
