namespace Mesh.ControlPlane.LoadReporting;

/// <summary>A named load metric summed over reports: how many requests carried it and the sum of its values.</summary>
/// <param name="Count">Requests finished with the metric.</param>
/// <param name="Sum">The sum of the metric's values.</param>
internal readonly record struct MetricTotal(ulong Count, double Sum);
