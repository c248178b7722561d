using Envoy.Config.Endpoint.V3;
using Envoy.Service.LoadStats.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mesh.Xds;

namespace Mesh.LoadHarness;

/// <summary>
/// One simulated client's load reporting (LRS), on the same HTTP/2 connection as its ADS stream: it sends its node and
/// clusters, takes the interval from the server's response, and from a random phase within the first interval reports
/// every cluster's load at that interval — one locality per cluster with issued/succeeded/errored/in-progress counts and
/// Mesh's latency metrics (the sum and four histogram buckets), as a Mesh client with traffic to each cluster would.
/// </summary>
internal sealed class LrsSimClient(Envoy.Config.Core.V3.Node node, IReadOnlyList<string> clusters)
{
    private int _reports;

    /// <summary>Load reports written.</summary>
    public int Reports => Volatile.Read(ref _reports);

    public async Task RunAsync(LoadReportingService.LoadReportingServiceClient client, CancellationToken cancellationToken)
    {
        try
        {
            using var call = client.StreamLoadStats(cancellationToken: cancellationToken);
            var first = new LoadStatsRequest { Node = node };
            foreach (var cluster in clusters)
            {
                first.ClusterStats.Add(new ClusterStats { ClusterName = cluster });
            }

            await call.RequestStream.WriteAsync(first, cancellationToken).ConfigureAwait(false);
            if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            var interval = call.ResponseStream.Current.LoadReportingInterval.ToTimeSpan();
            await Task.Delay(TimeSpan.FromTicks((long)(interval.Ticks * Random.Shared.NextDouble())), cancellationToken).ConfigureAwait(false);
            using var timer = new PeriodicTimer(interval);
            do
            {
                await call.RequestStream.WriteAsync(Report(interval), cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref _reports);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (RpcException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private LoadStatsRequest Report(TimeSpan interval)
    {
        var request = new LoadStatsRequest();
        foreach (var cluster in clusters)
        {
            var locality = new UpstreamLocalityStats
            {
                Locality = new Envoy.Config.Core.V3.Locality(),
                TotalIssuedRequests = 100,
                TotalSuccessfulRequests = 98,
                TotalErrorRequests = 2,
                TotalRequestsInProgress = 1,
            };
            locality.LoadMetricStats.Add(new EndpointLoadMetricStats { MetricName = LoadMetricNames.LatencyMilliseconds, NumRequestsFinishedWithMetric = 100, TotalMetricValue = 420 });
            locality.LoadMetricStats.Add(new EndpointLoadMetricStats { MetricName = LoadMetricNames.LatencyBucket(1), NumRequestsFinishedWithMetric = 60, TotalMetricValue = 90 });
            locality.LoadMetricStats.Add(new EndpointLoadMetricStats { MetricName = LoadMetricNames.LatencyBucket(2), NumRequestsFinishedWithMetric = 30, TotalMetricValue = 100 });
            locality.LoadMetricStats.Add(new EndpointLoadMetricStats { MetricName = LoadMetricNames.LatencyBucket(3), NumRequestsFinishedWithMetric = 8, TotalMetricValue = 60 });
            locality.LoadMetricStats.Add(new EndpointLoadMetricStats { MetricName = LoadMetricNames.LatencyBucket(5), NumRequestsFinishedWithMetric = 2, TotalMetricValue = 40 });
            var stats = new ClusterStats { ClusterName = cluster, LoadReportInterval = Duration.FromTimeSpan(interval) };
            stats.UpstreamLocalityStats.Add(locality);
            request.ClusterStats.Add(stats);
        }

        return request;
    }
}
