using Mesh.ControlPlane.Dashboard;
using Mesh.ControlPlane.LoadReporting;

namespace Mesh.ControlPlane.Tests.Dashboard;

public class LatencyMetricsTests
{
    [Fact]
    public void From_HistogramBuckets_PercentilesInterpolatedOverTheDifference()
    {
        var baseline = new Dictionary<string, MetricTotal> { ["latency_ms_le_10"] = new(100, 500), ["latency_ms_le_100"] = new(0, 0) };
        var current = new Dictionary<string, MetricTotal>
        {
            ["latency_ms_le_10"] = new(180, 900), // 80 new requests at most 10 ms
            ["latency_ms_le_100"] = new(20, 1000), // 20 new between 10 and 100 ms
            ["latency_ms_le_inf"] = new(0, 0),
        };

        var (p50, p99, _) = LatencyMetrics.From(current, baseline);

        Assert.Equal(6.25, p50!.Value, 3); // 50 of 80 in (0, 10]
        Assert.Equal(95.5, p99!.Value, 3); // 19 of 20 in (10, 100]
    }

    [Fact]
    public void From_PercentileMetricsAndPlainSum_WeightedMeansAndNoPercentileFromASum()
    {
        var (p50, p99, mean) = LatencyMetrics.From(
            new Dictionary<string, MetricTotal> { ["latency_p50_ms"] = new(4, 12), ["latency_p99_ms"] = new(4, 40) }, baseline: null);
        Assert.Equal(3d, p50);
        Assert.Equal(10d, p99);
        Assert.Null(mean);

        var sumOnly = LatencyMetrics.From(new Dictionary<string, MetricTotal> { ["latency_ms"] = new(10, 150), ["cpu_utilization"] = new(10, 5) }, baseline: null);
        Assert.Null(sumOnly.P50);
        Assert.Null(sumOnly.P99);
        Assert.Equal(15d, sumOnly.Mean);
    }

    [Fact]
    public void Quantile_BeyondTheLastFiniteBound_IsThatBound()
    {
        Assert.Equal(50d, LatencyMetrics.Quantile([(50, 1), (double.PositiveInfinity, 99)], 0.99));
        Assert.Null(LatencyMetrics.Quantile([(50, 0)], 0.5));
    }
}
