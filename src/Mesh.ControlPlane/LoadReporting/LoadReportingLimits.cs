namespace Mesh.ControlPlane.LoadReporting;

/// <summary>The bounds that keep a client's load reports from growing the control plane's memory.</summary>
internal static class LoadReportingLimits
{
    /// <summary>Clusters read from one report; the rest are dropped (and logged).</summary>
    public const int MaxClustersPerReport = 512;

    /// <summary>Localities kept per edge; load for further localities is counted on the edge only.</summary>
    public const int MaxLocalitiesPerEdge = 16;

    /// <summary>Named load metrics kept per edge (Mesh clients' latency histogram takes up to 15 of them).</summary>
    public const int MaxMetricsPerEdge = 32;

    /// <summary>Edges (source workload → destination service/subset) kept in all; reports for new edges beyond it are dropped.</summary>
    public const int MaxEdges = 10_000;

    /// <summary>Reports kept per edge in its history window.</summary>
    public const int MaxHistoryPerEdge = 60;

    /// <summary>How far back the history window reaches.</summary>
    public static readonly TimeSpan HistoryWindow = TimeSpan.FromMinutes(5);
}
