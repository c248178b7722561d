using Mesh.Client.LoadReporting;
using Mesh.Xds;

namespace Mesh.Client.Tests.LoadReporting;

public sealed class LocalityLoadTests
{
    private static LocalityLoad NewLocality() => new ClusterLoad("outbound|9080||greeter.default.svc.cluster.local", "", 0).Locality("r", "z", "s");

    [Fact]
    public void Drain_AfterCallsStartAndEnd_ReportsTheDeltasAndStartsOver()
    {
        var load = NewLocality();
        for (var i = 0; i < 4; i++)
        {
            load.Start();
        }

        load.End(success: true, TimeSpan.FromMilliseconds(0.5));
        load.End(success: true, TimeSpan.FromMilliseconds(30));
        load.End(success: false, TimeSpan.FromMilliseconds(3000));

        Assert.True(load.Drain(out var stats, out _));
        Assert.Equal(("r", "z", "s"), (stats.Locality.Region, stats.Locality.Zone, stats.Locality.SubZone));
        Assert.Equal(4UL, stats.TotalIssuedRequests);
        Assert.Equal(2UL, stats.TotalSuccessfulRequests);
        Assert.Equal(1UL, stats.TotalErrorRequests);
        Assert.Equal(1UL, stats.TotalRequestsInProgress);
        var metrics = stats.LoadMetricStats.ToDictionary(m => m.MetricName);
        Assert.Equal(3UL, metrics[LoadMetricNames.LatencyMilliseconds].NumRequestsFinishedWithMetric);
        Assert.Equal(3030.5, metrics[LoadMetricNames.LatencyMilliseconds].TotalMetricValue, precision: 6);
        Assert.Equal(1UL, metrics["mesh.latency_ms.bucket.1"].NumRequestsFinishedWithMetric);
        Assert.Equal(1UL, metrics["mesh.latency_ms.bucket.50"].NumRequestsFinishedWithMetric);
        Assert.Equal(1UL, metrics["mesh.latency_ms.bucket.5000"].NumRequestsFinishedWithMetric);
        Assert.Equal(4, metrics.Count); // empty buckets are left out

        // Only the call still in progress is left: reported as in progress, nothing else.
        Assert.True(load.Drain(out stats, out _));
        Assert.Equal((0UL, 0UL, 0UL, 1UL), (stats.TotalIssuedRequests, stats.TotalSuccessfulRequests, stats.TotalErrorRequests, stats.TotalRequestsInProgress));
        Assert.Empty(stats.LoadMetricStats);

        load.End(success: true, TimeSpan.FromHours(1));
        Assert.True(load.Drain(out stats, out _));
        Assert.Equal((0UL, 1UL, 0UL, 0UL), (stats.TotalIssuedRequests, stats.TotalSuccessfulRequests, stats.TotalErrorRequests, stats.TotalRequestsInProgress));
        Assert.Equal(1UL, stats.LoadMetricStats.Single(m => m.MetricName == "mesh.latency_ms.bucket.inf").NumRequestsFinishedWithMetric);

        Assert.False(load.Drain(out _, out _));
    }

    [Fact]
    public void Restore_AfterAReportCouldNotBeSent_NextDrainCarriesTheCounts()
    {
        var load = NewLocality();
        load.Start();
        load.Start();
        load.End(success: true, TimeSpan.FromMilliseconds(3));
        load.End(success: false, TimeSpan.FromMilliseconds(3));
        Assert.True(load.Drain(out _, out var delta));

        load.Start();
        load.End(success: true, TimeSpan.FromMilliseconds(3));
        load.Restore(delta);

        Assert.True(load.Drain(out var stats, out _));
        Assert.Equal((3UL, 2UL, 1UL, 0UL), (stats.TotalIssuedRequests, stats.TotalSuccessfulRequests, stats.TotalErrorRequests, stats.TotalRequestsInProgress));
        Assert.Equal(3UL, stats.LoadMetricStats.Single(m => m.MetricName == "mesh.latency_ms.bucket.5").NumRequestsFinishedWithMetric);
    }

    [Fact]
    public void ClusterDrain_WithDrops_ReportsTheClusterAndItsInterval()
    {
        var cluster = new ClusterLoad("c", "eds-name", 0);
        cluster.RecordDrop();
        cluster.RecordDrop();
        var taken = new List<(LocalityLoad, LocalityLoadDelta)>();

        var stats = cluster.Drain(TimeSpan.FromSeconds(7), taken, out var dropped);

        Assert.NotNull(stats);
        Assert.Equal(2, dropped);
        Assert.Equal(("c", "eds-name", 2UL), (stats.ClusterName, stats.ClusterServiceName, stats.TotalDroppedRequests));
        Assert.Equal(TimeSpan.FromSeconds(7), stats.LoadReportInterval.ToTimeSpan());
        Assert.Empty(stats.UpstreamLocalityStats);
        Assert.Null(cluster.Drain(TimeSpan.FromSeconds(1), taken, out _));
    }
}
