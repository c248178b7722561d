namespace Mesh.ControlPlane.LoadReporting;

/// <summary>The load reported for one edge: totals since first seen, per locality and per named metric, and a bounded history.</summary>
internal sealed class EdgeLoad
{
    /// <summary>Counts since the edge was first reported.</summary>
    public LoadCounters Total { get; set; }

    /// <summary>Requests in progress at the latest report, summed over the reporting nodes' latest reports.</summary>
    public Dictionary<string, ulong> InProgressByNode { get; } = new(StringComparer.Ordinal);

    /// <summary>Counts per locality (<c>region/zone/sub_zone</c>), at most <see cref="LoadReportingLimits.MaxLocalitiesPerEdge"/>.</summary>
    public Dictionary<string, LoadCounters> Localities { get; } = new(StringComparer.Ordinal);

    /// <summary>Named load metrics, at most <see cref="LoadReportingLimits.MaxMetricsPerEdge"/>.</summary>
    public Dictionary<string, MetricTotal> Metrics { get; } = new(StringComparer.Ordinal);

    /// <summary>Recent reports, oldest first, bounded in count and age.</summary>
    public Queue<LoadSample> History { get; } = new();

    /// <summary>The latency histogram since the edge was first reported, or null while no report carried one.</summary>
    public LatencyHistogram? Latency { get; set; }

    /// <summary>When the latest report for the edge arrived.</summary>
    public DateTimeOffset LastReport { get; set; }
}
