using System.Globalization;
using System.Text.RegularExpressions;
using Mesh.ControlPlane.LoadReporting;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>
/// Reads latency from the named load metrics of load reports (A64 lets a client attach named metrics to each
/// locality's stats: a request count and a sum per name). Three shapes are understood, all in milliseconds unless the
/// name says seconds:
/// <list type="bullet">
/// <item>a histogram, one metric per bucket: Mesh clients' <c>mesh.latency_ms.bucket.&lt;upper bound&gt;</c> (see
/// <see cref="Mesh.Xds.LoadMetricNames"/>), or <c>…latency…_le_&lt;upper bound&gt;</c>, <c>inf</c> for the last, each request
/// counted in the one bucket it falls in;</item>
/// <item>percentiles: <c>…latency…p50…</c> and <c>…latency…p99…</c>, the sum of per-report percentiles over the number of
/// requests they cover (their weighted mean is shown);</item>
/// <item>a plain sum (<c>latency_ms</c>): only the mean can be derived, no percentile.</item>
/// </list>
/// </summary>
internal static partial class LatencyMetrics
{
    /// <summary>The p50, p99 and mean latency (milliseconds) of the differences between two metric totals, each null when unknown.</summary>
    public static (double? P50, double? P99, double? Mean) From(
        IReadOnlyDictionary<string, MetricTotal> current, IReadOnlyDictionary<string, MetricTotal>? baseline)
    {
        List<(double Bound, double Count)>? buckets = null;
        double? p50 = null, p99 = null, mean = null;
        foreach (var (name, total) in current)
        {
            if (!name.Contains("latency", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var before = baseline is not null && baseline.TryGetValue(name, out var b) ? b : default;
            var count = total.Count >= before.Count ? total.Count - before.Count : total.Count;
            var sum = total.Count >= before.Count ? total.Sum - before.Sum : total.Sum;
            var scale = name.Contains("second", StringComparison.OrdinalIgnoreCase) || name.EndsWith("_s", StringComparison.OrdinalIgnoreCase) ? 1000d : 1d;
            if (Bucket().Match(name) is { Success: true } bucket)
            {
                var bound = bucket.Groups["bound"].Value;
                var upper = bound.Equals("inf", StringComparison.OrdinalIgnoreCase)
                    ? double.PositiveInfinity
                    : double.Parse(bound, NumberStyles.Float, CultureInfo.InvariantCulture) * scale;
                (buckets ??= []).Add((upper, count));
            }
            else if (count > 0 && Percentile().Match(name) is { Success: true } percentile)
            {
                var value = sum / count * scale;
                if (percentile.Groups["p"].Value == "50")
                {
                    p50 = value;
                }
                else
                {
                    p99 = value;
                }
            }
            else if (count > 0 && mean is null)
            {
                mean = sum / count * scale;
            }
        }

        if (buckets is not null)
        {
            buckets.Sort(static (a, b) => a.Bound.CompareTo(b.Bound));
            p50 ??= Quantile(buckets, 0.5);
            p99 ??= Quantile(buckets, 0.99);
        }

        return (p50, p99, mean);
    }

    /// <summary>The <paramref name="q"/> quantile of a histogram (buckets sorted by upper bound), interpolated within its bucket.</summary>
    internal static double? Quantile(IReadOnlyList<(double Bound, double Count)> buckets, double q)
    {
        var total = 0d;
        foreach (var (_, count) in buckets)
        {
            total += count;
        }

        if (total <= 0)
        {
            return null;
        }

        var target = q * total;
        var seen = 0d;
        var lower = 0d;
        foreach (var (bound, count) in buckets)
        {
            if (count > 0 && seen + count >= target)
            {
                if (double.IsPositiveInfinity(bound))
                {
                    return lower; // beyond the last finite bound: that bound is the most that can be said.
                }

                return lower + ((bound - lower) * (target - seen) / count);
            }

            seen += count;
            if (!double.IsPositiveInfinity(bound))
            {
                lower = bound;
            }
        }

        return lower;
    }

    [GeneratedRegex(@"[._-](?:le|bucket)[._-]?(?<bound>[0-9]+(?:\.[0-9]+)?|inf)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Bucket();

    [GeneratedRegex(@"(?:^|[._-])p(?<p>50|99)(?:[._-]|$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Percentile();
}
