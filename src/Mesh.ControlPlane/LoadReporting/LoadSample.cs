namespace Mesh.ControlPlane.LoadReporting;

/// <summary>One report's counts for an edge, as the history window keeps it.</summary>
/// <param name="ReceivedAt">When the report arrived.</param>
/// <param name="Interval">The interval the client says the report covers.</param>
/// <param name="Counters">The counts.</param>
/// <param name="Latency">The latency histogram the report carried (Mesh clients), or null.</param>
internal readonly record struct LoadSample(DateTimeOffset ReceivedAt, TimeSpan Interval, LoadCounters Counters, LatencyHistogram? Latency = null);
