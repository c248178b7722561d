namespace Mesh.ControlPlane.LoadReporting;

/// <summary>A copy of one edge's load, taken under the store's lock.</summary>
/// <param name="Total">Counts since the edge was first reported.</param>
/// <param name="InProgress">Requests in progress at the reporting nodes' latest reports.</param>
/// <param name="Window">Counts over the history window.</param>
/// <param name="WindowInterval">The sum of the windowed reports' intervals.</param>
/// <param name="WindowReports">Reports in the window.</param>
/// <param name="LastReport">When the latest report arrived.</param>
/// <param name="Localities">Counts per locality.</param>
/// <param name="Metrics">Named load metrics.</param>
/// <param name="Latency">The latency histogram since the edge was first reported (null: no report carried one).</param>
/// <param name="WindowLatency">The latency histogram over the history window (null: none in the window).</param>
internal sealed record EdgeLoadView(
    LoadCounters Total,
    ulong InProgress,
    LoadCounters Window,
    TimeSpan WindowInterval,
    int WindowReports,
    DateTimeOffset LastReport,
    IReadOnlyDictionary<string, LoadCounters> Localities,
    IReadOnlyDictionary<string, MetricTotal> Metrics,
    LatencyHistogram? Latency = null,
    LatencyHistogram? WindowLatency = null);
