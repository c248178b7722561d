using Mesh.ControlPlane.LoadReporting;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>
/// Turns the load store's running totals into recent rates: each <see cref="Sample"/> records every edge's totals, and
/// an edge's rate is the difference between its latest totals and those at the start of the
/// <see cref="DashboardLimits.RateWindow"/>, over the time between the reports that produced them. The store's totals
/// only move when a report arrives, so measuring between report arrivals (not sample times) counts whole reports over
/// the time they cover. Not thread-safe: the caller serializes calls.
/// </summary>
internal sealed class EdgeRateTracker
{
    private readonly LoadReportStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;
    private readonly Dictionary<LoadEdgeKey, EdgeHistory> _edges = [];

    /// <summary>Creates a tracker over <paramref name="store"/>.</summary>
    public EdgeRateTracker(LoadReportStore store, TimeProvider time, TimeSpan? window = null)
    {
        _store = store;
        _time = time;
        _window = window ?? DashboardLimits.RateWindow;
    }

    /// <summary>The window rates are computed over.</summary>
    public TimeSpan Window => _window;

    /// <summary>Records the store's current totals and returns every edge's recent rates.</summary>
    public IReadOnlyList<EdgeRate> Sample()
    {
        var now = _time.GetUtcNow();
        var snapshot = _store.Snapshot();
        var seen = new HashSet<LoadEdgeKey>();
        var result = new List<EdgeRate>(snapshot.Count);
        foreach (var (key, load) in snapshot)
        {
            seen.Add(key);
            if (!_edges.TryGetValue(key, out var history))
            {
                // First sight: the store's own window says whether the edge was busy lately.
                history = new EdgeHistory { LastActive = load.Window.Issued > 0 ? load.LastReport : DateTimeOffset.MinValue };
                _edges.Add(key, history);
            }

            var samples = history.Samples;
            if (samples.Count == 0 || samples[^1].LastReport != load.LastReport)
            {
                samples.Add(new EdgeSnapshot(now, load.LastReport, load.Total, load.Metrics));
            }

            // Keep one sample at or before the window's start as the baseline.
            while (samples.Count > 1 && samples[1].At <= now - _window)
            {
                samples.RemoveAt(0);
            }

            var latest = samples[^1];
            var baseline = samples[0];
            double rps;
            double? errorRate;
            (double? P50, double? P99, double? Mean) latency;
            if (ReferenceEquals(latest, baseline))
            {
                // One sample: fall back to the store's window (its reports' own intervals).
                var seconds = load.WindowInterval.TotalSeconds;
                rps = seconds > 0 && now - load.LastReport <= _window ? (load.Window.Issued + load.Window.Dropped) / seconds : 0;
                errorRate = ErrorRate(load.Window);
                latency = LatencyMetrics.From(load.Metrics, baseline: null);
            }
            else
            {
                var delta = Subtract(latest.Total, baseline.Total);
                var span = (latest.LastReport - baseline.LastReport).TotalSeconds;
                var stale = now - latest.LastReport > _window + _window;
                rps = span > 0 && !stale ? (delta.Issued + delta.Dropped) / span : 0;
                errorRate = stale ? null : ErrorRate(delta);
                latency = stale ? default : LatencyMetrics.From(latest.Metrics, baseline.Metrics);
                if (delta.Issued > 0 && latest.LastReport > history.LastActive)
                {
                    history.LastActive = latest.LastReport;
                }
            }

            result.Add(new EdgeRate(key, rps, errorRate, latency.P50, latency.P99, load.InProgress, load.Total, history.LastActive));
        }

        if (seen.Count != _edges.Count)
        {
            foreach (var key in _edges.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                _edges.Remove(key);
            }
        }

        return result;
    }

    // A dropped request (the circuit breaker, a fault-injection abort) failed on the client without being sent: the
    // caller saw an error on this edge, as Istio's source-reported metrics count it (response flags UO, FI).
    private static double? ErrorRate(LoadCounters counters)
    {
        var finished = counters.Succeeded + counters.Errored + counters.Dropped;
        return finished > 0 ? (double)(counters.Errored + counters.Dropped) / finished : null;
    }

    // Totals only grow; a smaller value means the edge was forgotten and counted again: take the new count whole.
    private static LoadCounters Subtract(LoadCounters now, LoadCounters before) => new(
        now.Issued >= before.Issued ? now.Issued - before.Issued : now.Issued,
        now.Succeeded >= before.Succeeded ? now.Succeeded - before.Succeeded : now.Succeeded,
        now.Errored >= before.Errored ? now.Errored - before.Errored : now.Errored,
        now.Dropped >= before.Dropped ? now.Dropped - before.Dropped : now.Dropped);

    private sealed record EdgeSnapshot(DateTimeOffset At, DateTimeOffset LastReport, LoadCounters Total, IReadOnlyDictionary<string, MetricTotal> Metrics);

    private sealed class EdgeHistory
    {
        public List<EdgeSnapshot> Samples { get; } = [];

        public DateTimeOffset LastActive { get; set; }
    }
}
