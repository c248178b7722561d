using Envoy.Config.Endpoint.V3;
using Mesh.Xds;

namespace Mesh.Client.LoadReporting;

/// <summary>
/// The load one process sends to one locality of one cluster (gRFC A27), counted lock-free per call: a call is issued and
/// in progress from <see cref="Start"/> (when its endpoint was picked and the attempt goes out) until <see cref="End"/>,
/// which counts it as a success (gRPC status OK, HTTP below 500) or an error and adds its latency to the histogram.
/// Every count except in-progress is a delta since the last report, taken (and reset) by <see cref="Drain"/>.
/// </summary>
internal sealed class LocalityLoad
{
    private readonly long[] _bucketCounts = new long[LoadMetricNames.LatencyBucketCount];
    private readonly long[] _bucketTicks = new long[LoadMetricNames.LatencyBucketCount];
    private long _issued;
    private long _succeeded;
    private long _errored;
    private long _inProgress;

    /// <summary>Creates the counters of <paramref name="locality"/> in <paramref name="cluster"/>.</summary>
    public LocalityLoad(ClusterLoad cluster, Envoy.Config.Core.V3.Locality locality)
    {
        Cluster = cluster;
        Locality = locality;
    }

    /// <summary>The cluster the locality belongs to (where drops are counted).</summary>
    public ClusterLoad Cluster { get; }

    /// <summary>The locality as the report names it.</summary>
    public Envoy.Config.Core.V3.Locality Locality { get; }

    /// <summary>Calls started and not yet ended.</summary>
    public long InProgress => Volatile.Read(ref _inProgress);

    /// <summary>A call to an endpoint of the locality starts.</summary>
    public void Start()
    {
        Interlocked.Increment(ref _issued);
        Interlocked.Increment(ref _inProgress);
    }

    /// <summary>A call started with <see cref="Start"/> ended, <paramref name="success"/> or not, after <paramref name="elapsed"/>.</summary>
    public void End(bool success, TimeSpan elapsed)
    {
        Interlocked.Increment(ref success ? ref _succeeded : ref _errored);
        Interlocked.Decrement(ref _inProgress);
        var ticks = Math.Max(0, elapsed.Ticks);
        var bucket = LoadMetricNames.LatencyBucketIndex(ticks / (double)TimeSpan.TicksPerMillisecond);
        Interlocked.Increment(ref _bucketCounts[bucket]);
        Interlocked.Add(ref _bucketTicks[bucket], ticks);
    }

    /// <summary>
    /// Takes the counts since the last drain (resetting them) into <paramref name="stats"/>; false, with nothing taken,
    /// when the locality had no load at all (nothing issued, finished or in progress).
    /// </summary>
    public bool Drain(out UpstreamLocalityStats stats, out LocalityLoadDelta delta)
    {
        delta = default;
        stats = null!;
        var inProgress = Volatile.Read(ref _inProgress);
        if (Volatile.Read(ref _issued) == 0 && Volatile.Read(ref _succeeded) == 0 && Volatile.Read(ref _errored) == 0 && inProgress == 0)
        {
            return false;
        }

        var counts = new long[_bucketCounts.Length];
        var ticks = new long[_bucketTicks.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Interlocked.Exchange(ref _bucketCounts[i], 0);
            ticks[i] = Interlocked.Exchange(ref _bucketTicks[i], 0);
        }

        delta = new LocalityLoadDelta(
            Interlocked.Exchange(ref _issued, 0), Interlocked.Exchange(ref _succeeded, 0), Interlocked.Exchange(ref _errored, 0), counts, ticks);
        stats = new UpstreamLocalityStats
        {
            Locality = Locality,
            TotalIssuedRequests = (ulong)delta.Issued,
            TotalSuccessfulRequests = (ulong)delta.Succeeded,
            TotalErrorRequests = (ulong)delta.Errored,
            TotalRequestsInProgress = (ulong)Math.Max(0, inProgress),
        };

        long finished = 0;
        long allTicks = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            finished += counts[i];
            allTicks += ticks[i];
        }

        if (finished > 0)
        {
            stats.LoadMetricStats.Add(new EndpointLoadMetricStats
            {
                MetricName = LoadMetricNames.LatencyMilliseconds,
                NumRequestsFinishedWithMetric = (ulong)finished,
                TotalMetricValue = allTicks / (double)TimeSpan.TicksPerMillisecond,
            });
            for (var i = 0; i < counts.Length; i++)
            {
                if (counts[i] > 0)
                {
                    stats.LoadMetricStats.Add(new EndpointLoadMetricStats
                    {
                        MetricName = LoadMetricNames.LatencyBucket(i),
                        NumRequestsFinishedWithMetric = (ulong)counts[i],
                        TotalMetricValue = ticks[i] / (double)TimeSpan.TicksPerMillisecond,
                    });
                }
            }
        }

        return true;
    }

    /// <summary>Puts back counts taken by <see cref="Drain"/> whose report could not be sent, so the next report carries them.</summary>
    public void Restore(LocalityLoadDelta delta)
    {
        Interlocked.Add(ref _issued, delta.Issued);
        Interlocked.Add(ref _succeeded, delta.Succeeded);
        Interlocked.Add(ref _errored, delta.Errored);
        for (var i = 0; i < delta.BucketCounts.Length; i++)
        {
            Interlocked.Add(ref _bucketCounts[i], delta.BucketCounts[i]);
            Interlocked.Add(ref _bucketTicks[i], delta.BucketTicks[i]);
        }
    }
}
