namespace Mesh.ControlPlane.Dashboard;

/// <summary>The dashboard's bounds and periods.</summary>
internal static class DashboardLimits
{
    /// <summary>Browsers that may follow <c>/dashboard/events</c> at once; one more is answered 503.</summary>
    public const int MaxEventClients = 16;

    /// <summary>Edges the snapshot shows (the busiest first); the load store holds at most <see cref="LoadReporting.LoadReportingLimits.MaxEdges"/>.</summary>
    public const int MaxEdges = 2_000;

    /// <summary>Disconnected clients remembered (the most recent), so the page can show them as gone.</summary>
    public const int MaxRememberedClients = 256;

    /// <summary>How often a snapshot is sent to the page.</summary>
    public static readonly TimeSpan SnapshotPeriod = TimeSpan.FromSeconds(1);

    /// <summary>The window over which requests per second, error rate and latency are computed.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(5);

    /// <summary>An edge with no requests for this long leaves the graph (its totals stay in <c>/debug/loadz</c>).</summary>
    public static readonly TimeSpan IdleEdgeRetention = TimeSpan.FromSeconds(60);

    /// <summary>How long a disconnected client stays on the page.</summary>
    public static readonly TimeSpan DisconnectedClientRetention = TimeSpan.FromMinutes(10);

    /// <summary>An edge with at least this error rate is failing (red).</summary>
    public const double FailingErrorRate = 0.2;

    /// <summary>An edge with at least this error rate is degraded (amber).</summary>
    public const double DegradedErrorRate = 0.01;
}
