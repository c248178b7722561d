using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Mesh.ControlPlane.LoadReporting;

/// <summary>The load reports as JSON (<c>/debug/loadz</c>) and as Prometheus text (<c>/debug/loadz/metrics</c>).</summary>
internal static class LoadzEndpoints
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/debug/loadz", (LoadReportStore store) => Results.Text(Loadz(store).ToJsonString(Indented), "application/json"));
        endpoints.MapGet("/debug/loadz/metrics", (LoadReportStore store) => Results.Text(Prometheus(store), "text/plain; version=0.0.4"));
    }

    internal static JsonObject Loadz(LoadReportStore store)
    {
        // The count first: a report is counted and recorded under one lock, so a snapshot taken after reading the
        // count holds at least every report counted (read the other way round, a report could be counted but missing).
        var reports = store.Reports;
        var edges = new JsonArray();
        foreach (var (key, load) in store.Snapshot())
        {
            var localities = new JsonObject();
            foreach (var (name, counters) in load.Localities.OrderBy(l => l.Key, StringComparer.Ordinal))
            {
                localities[name] = Counters(counters);
            }

            var metrics = new JsonObject();
            foreach (var (name, metric) in load.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                metrics[name] = new JsonObject { ["count"] = metric.Count, ["sum"] = metric.Sum };
            }

            var seconds = load.WindowInterval.TotalSeconds;
            edges.Add(new JsonObject
            {
                ["sourceNamespace"] = key.SourceNamespace,
                ["sourceWorkload"] = key.SourceWorkload,
                ["destinationService"] = key.DestinationService,
                ["destinationPort"] = key.DestinationPort,
                ["destinationSubset"] = key.DestinationSubset,
                ["total"] = Counters(load.Total),
                ["inProgress"] = load.InProgress,
                ["window"] = new JsonObject
                {
                    ["reports"] = load.WindowReports,
                    ["seconds"] = seconds,
                    ["counts"] = Counters(load.Window),
                    ["requestsPerSecond"] = seconds > 0 ? load.Window.Issued / seconds : 0,
                    ["errorRate"] = load.Window.Succeeded + load.Window.Errored > 0
                        ? (double)load.Window.Errored / (load.Window.Succeeded + load.Window.Errored) : 0,
                },
                ["lastReport"] = load.LastReport.ToString("O", CultureInfo.InvariantCulture),
                ["localities"] = localities,
                ["metrics"] = metrics,
                ["latency"] = Latency(load.Latency, load.WindowLatency),
            });
        }

        return new JsonObject { ["reports"] = reports, ["edges"] = edges };
    }

    internal static string Prometheus(LoadReportStore store)
    {
        var text = new StringBuilder();
        text.Append("# HELP mesh_lrs_requests_total Requests clients reported by load reporting (LRS), by outcome.\n");
        text.Append("# TYPE mesh_lrs_requests_total counter\n");
        var snapshot = store.Snapshot();
        foreach (var (key, load) in snapshot)
        {
            Line(text, "mesh_lrs_requests_total", key, "issued", load.Total.Issued);
            Line(text, "mesh_lrs_requests_total", key, "success", load.Total.Succeeded);
            Line(text, "mesh_lrs_requests_total", key, "error", load.Total.Errored);
            Line(text, "mesh_lrs_requests_total", key, "dropped", load.Total.Dropped);
        }

        text.Append("# HELP mesh_lrs_requests_in_progress Requests in progress at the clients' latest load reports.\n");
        text.Append("# TYPE mesh_lrs_requests_in_progress gauge\n");
        foreach (var (key, load) in snapshot)
        {
            Line(text, "mesh_lrs_requests_in_progress", key, null, load.InProgress);
        }

        text.Append("# HELP mesh_lrs_request_duration_milliseconds Latency of the requests Mesh clients reported by load reporting (LRS).\n");
        text.Append("# TYPE mesh_lrs_request_duration_milliseconds histogram\n");
        foreach (var (key, load) in snapshot)
        {
            if (load.Latency is not { } latency)
            {
                continue;
            }

            ulong cumulative = 0;
            var bounds = Mesh.Xds.LoadMetricNames.LatencyBucketBounds;
            for (var i = 0; i < latency.Counts.Count; i++)
            {
                cumulative += latency.Counts[i];
                var le = i < bounds.Count ? bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
                Line(text, "mesh_lrs_request_duration_milliseconds_bucket", key, null, cumulative, le);
            }

            LineValue(text, "mesh_lrs_request_duration_milliseconds_sum", key, latency.SumMilliseconds.ToString("R", CultureInfo.InvariantCulture));
            Line(text, "mesh_lrs_request_duration_milliseconds_count", key, null, latency.Count);
        }

        return text.ToString();
    }

    /// <summary>
    /// An edge's latency (from Mesh clients' <c>mesh.latency_ms</c> histogram): count, mean, p50 and p99 in milliseconds since
    /// the edge was first reported, and the same over the history window; null when no report carried latency.
    /// </summary>
    private static JsonObject? Latency(LatencyHistogram? total, LatencyHistogram? window)
    {
        if (total is null)
        {
            return null;
        }

        var latency = LatencySummary(total);
        latency["window"] = window is null ? null : LatencySummary(window);
        return latency;
    }

    private static JsonObject LatencySummary(LatencyHistogram histogram) => new()
    {
        ["count"] = histogram.Count,
        ["meanMs"] = Math.Round(histogram.MeanMilliseconds, 3),
        ["p50Ms"] = Math.Round(histogram.Percentile(0.5), 3),
        ["p99Ms"] = Math.Round(histogram.Percentile(0.99), 3),
    };

    private static JsonObject Counters(LoadCounters counters) => new()
    {
        ["issued"] = counters.Issued,
        ["succeeded"] = counters.Succeeded,
        ["errored"] = counters.Errored,
        ["dropped"] = counters.Dropped,
    };

    private static void Line(StringBuilder text, string name, LoadEdgeKey key, string? outcome, ulong value, string? le = null)
    {
        Labels(text, name, key, outcome, le);
        text.Append("} ").Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void LineValue(StringBuilder text, string name, LoadEdgeKey key, string value)
    {
        Labels(text, name, key, null, null);
        text.Append("} ").Append(value).Append('\n');
    }

    private static void Labels(StringBuilder text, string name, LoadEdgeKey key, string? outcome, string? le)
    {
        text.Append(name).Append("{source_workload=\"").Append(Escape(key.SourceWorkload))
            .Append("\",source_namespace=\"").Append(Escape(key.SourceNamespace))
            .Append("\",destination_service=\"").Append(Escape(key.DestinationService))
            .Append("\",destination_port=\"").Append(key.DestinationPort.ToString(CultureInfo.InvariantCulture))
            .Append("\",destination_subset=\"").Append(Escape(key.DestinationSubset)).Append('"');
        if (outcome is not null)
        {
            text.Append(",outcome=\"").Append(outcome).Append('"');
        }

        if (le is not null)
        {
            text.Append(",le=\"").Append(le).Append('"');
        }
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
