using Mesh.ControlPlane.LoadReporting;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>The recent traffic of one edge, as the dashboard shows it.</summary>
/// <param name="Key">The edge.</param>
/// <param name="RequestsPerSecond">Requests issued per second over the rate window.</param>
/// <param name="ErrorRate">Errored over finished requests in the window (0..1), or null when none finished.</param>
/// <param name="P50Milliseconds">The median latency in the window, or null when the clients report no latency metric.</param>
/// <param name="P99Milliseconds">The 99th percentile latency in the window, or null when the clients report no latency metric.</param>
/// <param name="InProgress">Requests in progress at the latest reports.</param>
/// <param name="Total">Counts since the edge was first reported.</param>
/// <param name="LastActive">When the edge last carried requests.</param>
internal sealed record EdgeRate(
    LoadEdgeKey Key,
    double RequestsPerSecond,
    double? ErrorRate,
    double? P50Milliseconds,
    double? P99Milliseconds,
    ulong InProgress,
    LoadCounters Total,
    DateTimeOffset LastActive);
