using System.Globalization;

namespace Mesh.Xds;

/// <summary>
/// The named load metrics (LRS <c>load_metric_stats</c>, as gRFC A64 allows) that Mesh clients report with every locality's
/// load and the control plane reads back: the latency of the requests that finished in the interval, as a sum and as a
/// compact histogram from which the control plane derives p50 and p99.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="LatencyMilliseconds"/> carries every finished request: <c>num_requests_finished_with_metric</c> is how many
/// finished, <c>total_metric_value</c> the sum of their latencies in milliseconds.
/// </para>
/// <para>
/// Each bucket is a metric of its own, <c>mesh.latency_ms.bucket.&lt;upper bound&gt;</c> (<c>inf</c> for the last):
/// <c>num_requests_finished_with_metric</c> is how many requests took longer than the previous bound and at most this one
/// (not cumulative), <c>total_metric_value</c> the sum of their latencies. Buckets without requests are left out of a report.
/// </para>
/// </remarks>
public static class LoadMetricNames
{
    /// <summary>The latency of finished requests, in milliseconds: count and sum.</summary>
    public const string LatencyMilliseconds = "mesh.latency_ms";

    /// <summary>The prefix of the latency histogram's bucket metrics.</summary>
    public const string LatencyBucketPrefix = "mesh.latency_ms.bucket.";

    /// <summary>The name of the last bucket (longer than the largest bound).</summary>
    public const string InfiniteBucket = "inf";

    /// <summary>The buckets' upper bounds in milliseconds, ascending; a last bucket takes everything above the largest.</summary>
    public static IReadOnlyList<double> LatencyBucketBounds => ReadOnlyBounds;

    /// <summary>How many buckets there are: one per bound plus the last, unbounded one.</summary>
    public static int LatencyBucketCount => LatencyBucketBounds.Count + 1;

    /// <summary>The bucket a latency of <paramref name="milliseconds"/> falls in (its upper bound is the first at or above it).</summary>
    public static int LatencyBucketIndex(double milliseconds)
    {
        for (var i = 0; i < Bounds.Length; i++)
        {
            if (milliseconds <= Bounds[i])
            {
                return i;
            }
        }

        return Bounds.Length;
    }

    /// <summary>The metric name of bucket <paramref name="index"/> (0 … <see cref="LatencyBucketCount"/> − 1).</summary>
    public static string LatencyBucket(int index) => BucketNames[index];

    /// <summary>
    /// The bucket a metric name denotes: its index, or false when <paramref name="metricName"/> is not a latency bucket.
    /// </summary>
    public static bool TryParseLatencyBucket(string? metricName, out int index)
    {
        index = -1;
        if (metricName is null || !metricName.StartsWith(LatencyBucketPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        for (var i = 0; i < BucketNames.Length; i++)
        {
            if (string.Equals(BucketNames[i], metricName, StringComparison.Ordinal))
            {
                index = i;
                return true;
            }
        }

        return false;
    }

    private static readonly double[] Bounds = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

    private static readonly System.Collections.ObjectModel.ReadOnlyCollection<double> ReadOnlyBounds = Array.AsReadOnly(Bounds);

    private static readonly string[] BucketNames = CreateBucketNames(Bounds);

    private static string[] CreateBucketNames(double[] bounds)
    {
        var names = new string[bounds.Length + 1];
        for (var i = 0; i < bounds.Length; i++)
        {
            names[i] = LatencyBucketPrefix + bounds[i].ToString(CultureInfo.InvariantCulture);
        }

        names[^1] = LatencyBucketPrefix + InfiniteBucket;
        return names;
    }
}
