using Envoy.Config.Endpoint.V3;
using Mesh.Xds;

namespace Mesh.ControlPlane.LoadReporting;

/// <summary>
/// Request latency as Mesh clients report it in their load reports (<see cref="LoadMetricNames"/>): per bucket how many
/// requests finished and the sum of their latencies, from which p50 and p99 are estimated. Accumulated under the
/// store's lock.
/// </summary>
internal sealed class LatencyHistogram
{
    private readonly ulong[] _counts = new ulong[LoadMetricNames.LatencyBucketCount];
    private readonly double[] _sums = new double[LoadMetricNames.LatencyBucketCount];

    /// <summary>Requests counted.</summary>
    public ulong Count { get; private set; }

    /// <summary>The sum of their latencies in milliseconds.</summary>
    public double SumMilliseconds { get; private set; }

    /// <summary>Requests per bucket (not cumulative), in the order of <see cref="LoadMetricNames.LatencyBucketBounds"/> then the last bucket.</summary>
    public IReadOnlyList<ulong> Counts => _counts;

    /// <summary>The latency histogram of one locality's report, or null when it carries none.</summary>
    public static LatencyHistogram? From(UpstreamLocalityStats locality)
    {
        LatencyHistogram? histogram = null;
        foreach (var metric in locality.LoadMetricStats)
        {
            if (LoadMetricNames.TryParseLatencyBucket(metric.MetricName, out var index))
            {
                histogram ??= new LatencyHistogram();
                histogram._counts[index] += metric.NumRequestsFinishedWithMetric;
                histogram._sums[index] += metric.TotalMetricValue;
                histogram.Count += metric.NumRequestsFinishedWithMetric;
                histogram.SumMilliseconds += metric.TotalMetricValue;
            }
        }

        return histogram;
    }

    /// <summary>Adds <paramref name="other"/>'s requests to this histogram.</summary>
    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
            _sums[i] += other._sums[i];
        }

        Count += other.Count;
        SumMilliseconds += other.SumMilliseconds;
    }

    /// <summary>A copy.</summary>
    public LatencyHistogram Clone()
    {
        var copy = new LatencyHistogram();
        copy.Add(this);
        return copy;
    }

    /// <summary>The mean latency in milliseconds (0 without requests).</summary>
    public double MeanMilliseconds => Count == 0 ? 0 : SumMilliseconds / Count;

    /// <summary>
    /// The latency below which <paramref name="quantile"/> of the requests finished, in milliseconds (0 without requests):
    /// linear within the bucket that holds the rank; in the last, unbounded bucket, the mean of its requests.
    /// </summary>
    public double Percentile(double quantile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var bounds = LoadMetricNames.LatencyBucketBounds;
        var rank = Math.Clamp(quantile, 0, 1) * Count;
        double seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] == 0)
            {
                continue;
            }

            var lower = i == 0 ? 0 : bounds[i - 1];
            if (seen + _counts[i] >= rank)
            {
                if (i >= bounds.Count)
                {
                    return Math.Max(lower, _sums[i] / _counts[i]);
                }

                var fraction = (rank - seen) / _counts[i];
                return lower + ((bounds[i] - lower) * fraction);
            }

            seen += _counts[i];
        }

        return bounds[^1];
    }
}
