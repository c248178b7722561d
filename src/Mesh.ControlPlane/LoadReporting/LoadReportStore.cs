using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.LoadReporting;

/// <summary>
/// The load every client reported (LRS), aggregated per source workload → destination service/subset → locality,
/// with a bounded history per edge. Bounded in edges, localities, metrics and history so no client can grow it without end.
/// </summary>
internal sealed partial class LoadReportStore
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<LoadEdgeKey, EdgeLoad> _edges = [];

    /// <summary>Creates an empty store.</summary>
    public LoadReportStore(TimeProvider time, ILogger<LoadReportStore> logger)
    {
        _time = time;
        _logger = logger;
    }

    /// <summary>Reports received since start.</summary>
    public long Reports { get; private set; }

    /// <summary>Records one report of <paramref name="node"/>.</summary>
    public void Record(Node node, IReadOnlyList<ClusterStats> clusters)
    {
        var (ns, workload) = Source(node);
        var now = _time.GetUtcNow();
        var count = clusters.Count;
        if (count > LoadReportingLimits.MaxClustersPerReport)
        {
            Log.ClustersCapped(_logger, node.Id, count, LoadReportingLimits.MaxClustersPerReport);
            count = LoadReportingLimits.MaxClustersPerReport;
        }

        lock (_lock)
        {
            Reports++;
            for (var i = 0; i < count; i++)
            {
                RecordCluster(node.Id, ns, workload, clusters[i], now);
            }
        }
    }

    /// <summary>A copy of every edge, for the debug and metrics endpoints.</summary>
    public IReadOnlyList<(LoadEdgeKey Key, EdgeLoadView Load)> Snapshot()
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            var result = new List<(LoadEdgeKey, EdgeLoadView)>(_edges.Count);
            foreach (var (key, edge) in _edges)
            {
                Trim(edge.History, now);
                var window = default(LoadCounters);
                var windowSpan = TimeSpan.Zero;
                LatencyHistogram? windowLatency = null;
                foreach (var sample in edge.History)
                {
                    window += sample.Counters;
                    windowSpan += sample.Interval;
                    if (sample.Latency is { } latency)
                    {
                        windowLatency ??= new LatencyHistogram();
                        windowLatency.Add(latency);
                    }
                }

                ulong inProgress = 0;
                foreach (var value in edge.InProgressByNode.Values)
                {
                    inProgress += value;
                }

                result.Add((key, new EdgeLoadView(
                    edge.Total, inProgress, window, windowSpan, edge.History.Count, edge.LastReport,
                    new Dictionary<string, LoadCounters>(edge.Localities, StringComparer.Ordinal),
                    new Dictionary<string, MetricTotal>(edge.Metrics, StringComparer.Ordinal),
                    edge.Latency?.Clone(),
                    windowLatency)));
            }

            result.Sort(static (a, b) => string.CompareOrdinal(EdgeName(a.Item1), EdgeName(b.Item1)));
            return result;
        }
    }

    /// <summary>The source workload and namespace a node names in its metadata.</summary>
    internal static (string Namespace, string Workload) Source(Node node)
    {
        var fields = node.Metadata?.Fields;
        var ns = fields is not null && fields.TryGetValue("NAMESPACE", out var n) && n.StringValue is { Length: > 0 } nsValue ? nsValue : "default";
        var workload = fields is not null && fields.TryGetValue("WORKLOAD_NAME", out var w) && w.StringValue is { Length: > 0 } name ? name
            : node.Cluster is { Length: > 0 } cluster ? cluster
            : node.Id ?? "";
        return (ns, workload);
    }

    private static string EdgeName(LoadEdgeKey key) =>
        key.SourceNamespace + "/" + key.SourceWorkload + ">" + key.DestinationService + ":" + key.DestinationPort + "/" + key.DestinationSubset;

    private void RecordCluster(string nodeId, string ns, string workload, ClusterStats stats, DateTimeOffset now)
    {
        var key = XdsResourceNames.TryParseClusterName(stats.ClusterName, out var port, out var subset, out var host)
            ? new LoadEdgeKey(ns, workload, host, port, subset)
            : new LoadEdgeKey(ns, workload, stats.ClusterName, 0, "");
        if (!_edges.TryGetValue(key, out var edge))
        {
            if (_edges.Count >= LoadReportingLimits.MaxEdges)
            {
                Log.EdgesCapped(_logger, nodeId, stats.ClusterName, LoadReportingLimits.MaxEdges);
                return;
            }

            edge = new EdgeLoad();
            _edges.Add(key, edge);
        }

        var report = new LoadCounters(0, 0, 0, stats.TotalDroppedRequests);
        ulong inProgress = 0;
        LatencyHistogram? latency = null;
        foreach (var locality in stats.UpstreamLocalityStats)
        {
            var counters = new LoadCounters(locality.TotalIssuedRequests, locality.TotalSuccessfulRequests, locality.TotalErrorRequests, 0);
            report += counters;
            inProgress += locality.TotalRequestsInProgress;
            var name = LocalityName(locality.Locality);
            if (edge.Localities.TryGetValue(name, out var existing))
            {
                edge.Localities[name] = existing + counters;
            }
            else if (edge.Localities.Count < LoadReportingLimits.MaxLocalitiesPerEdge)
            {
                edge.Localities.Add(name, counters);
            }

            if (LatencyHistogram.From(locality) is { } localityLatency)
            {
                latency ??= new LatencyHistogram();
                latency.Add(localityLatency);
            }

            foreach (var metric in locality.LoadMetricStats)
            {
                var total = new MetricTotal(metric.NumRequestsFinishedWithMetric, metric.TotalMetricValue);
                if (edge.Metrics.TryGetValue(metric.MetricName, out var sum))
                {
                    edge.Metrics[metric.MetricName] = new MetricTotal(sum.Count + total.Count, sum.Sum + total.Sum);
                }
                else if (edge.Metrics.Count < LoadReportingLimits.MaxMetricsPerEdge)
                {
                    edge.Metrics.Add(metric.MetricName, total);
                }
            }
        }

        edge.Total += report;
        edge.LastReport = now;
        if (edge.InProgressByNode.ContainsKey(nodeId) || edge.InProgressByNode.Count < LoadReportingLimits.MaxLocalitiesPerEdge * 4)
        {
            edge.InProgressByNode[nodeId] = inProgress;
        }

        if (latency is not null)
        {
            edge.Latency ??= new LatencyHistogram();
            edge.Latency.Add(latency);
        }

        edge.History.Enqueue(new LoadSample(now, stats.LoadReportInterval?.ToTimeSpan() ?? TimeSpan.Zero, report, latency));
        Trim(edge.History, now);
    }

    private static void Trim(Queue<LoadSample> history, DateTimeOffset now)
    {
        while (history.Count > LoadReportingLimits.MaxHistoryPerEdge
            || (history.Count > 0 && now - history.Peek().ReceivedAt > LoadReportingLimits.HistoryWindow))
        {
            history.Dequeue();
        }
    }

    private static string LocalityName(Locality? locality) =>
        locality is null ? "" : locality.Region + "/" + locality.Zone + "/" + locality.SubZone;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Load report from {Node} names {Count} clusters; only the first {Limit} are recorded")]
        public static partial void ClustersCapped(ILogger logger, string node, int count, int limit);

        [LoggerMessage(2, LogLevel.Warning, "Load report from {Node} for cluster {Cluster} dropped: the store already holds {Limit} edges")]
        public static partial void EdgesCapped(ILogger logger, string node, string cluster, int limit);
    }
}
