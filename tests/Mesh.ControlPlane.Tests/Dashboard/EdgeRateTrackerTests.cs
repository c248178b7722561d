using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Dashboard;
using Mesh.ControlPlane.LoadReporting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.ControlPlane.Tests.Dashboard;

public class EdgeRateTrackerTests
{
    private const string Reviews = "outbound|9080||reviews.default.svc.cluster.local";

    private static readonly Node Productpage = new()
    {
        Id = "productpage-v1.default",
        Metadata = new Struct { Fields = { ["WORKLOAD_NAME"] = Value.ForString("productpage-v1") } },
    };

    private static ClusterStats Stats(ulong issued) => new()
    {
        ClusterName = Reviews,
        UpstreamLocalityStats = { new UpstreamLocalityStats { TotalIssuedRequests = issued, TotalSuccessfulRequests = issued } },
        LoadReportInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(2)),
    };

    [Fact]
    public void Sample_ReportsAtTheirOwnPace_RateCountsWholeReportsOverTheTimeBetweenThem()
    {
        var time = new FakeTimeProvider();
        var store = new LoadReportStore(time, NullLogger<LoadReportStore>.Instance);
        var tracker = new EdgeRateTracker(store, time, TimeSpan.FromSeconds(5));
        store.Record(Productpage, [Stats(0)]);

        // A report every 2 s with 20 requests, sampled every second: 10 per second whatever the sample falls on.
        var rates = new List<double>();
        for (var second = 1; second <= 12; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            if (second % 2 == 0)
            {
                store.Record(Productpage, [Stats(20)]);
            }

            var rate = Assert.Single(tracker.Sample());
            if (second >= 2)
            {
                rates.Add(rate.RequestsPerSecond);
            }
        }

        Assert.All(rates, r => Assert.Equal(10d, r, 6));
    }

    [Fact]
    public void Sample_ReportsStop_RateFallsToZero()
    {
        var time = new FakeTimeProvider();
        var store = new LoadReportStore(time, NullLogger<LoadReportStore>.Instance);
        var tracker = new EdgeRateTracker(store, time, TimeSpan.FromSeconds(5));
        store.Record(Productpage, [Stats(0)]);
        tracker.Sample();
        time.Advance(TimeSpan.FromSeconds(1));
        store.Record(Productpage, [Stats(10)]);
        Assert.Equal(10d, Assert.Single(tracker.Sample()).RequestsPerSecond);

        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(0d, Assert.Single(tracker.Sample()).RequestsPerSecond);
    }
}
