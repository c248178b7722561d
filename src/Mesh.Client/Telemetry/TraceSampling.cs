using System.Diagnostics;

namespace Mesh.Client.Telemetry;

/// <summary>
/// The mesh's trace sampling, as Envoy applies its connection manager's <c>tracing.random_sampling</c> (which istiod
/// fills from the Telemetry resource's <c>randomSamplingPercentage</c>): a request that carries a caller's sampling
/// decision (W3C <c>traceparent</c> flags, B3 sampled, or the enclosing span) keeps it; one without is traced at random
/// with the configured percentage. Until the control plane sends a percentage the mesh makes no decision and the
/// application's sampler (OpenTelemetry's) decides alone, as before. Mesh.Client holds one per xDS client, updated
/// live from every client listener the control plane sends (Telemetry selects workloads, so every listener of a
/// workload carries the same value); Mesh.Server reads it from each request's own server listener.
/// </summary>
internal sealed class TraceSampling
{
    // NaN: no percentage from the mesh.
    private double _percent = double.NaN;

    /// <summary>The percentage in force, or null when the mesh sets none.</summary>
    public double? Percentage => double.IsNaN(Volatile.Read(ref _percent)) ? null : Volatile.Read(ref _percent);

    /// <summary>Sets the percentage (null: the mesh sets none); takes effect from the next call.</summary>
    public void Set(double? percent) => Volatile.Write(ref _percent, percent ?? double.NaN);

    /// <summary>Whether a span is recorded for a request whose caller's context is <paramref name="parent"/> (default: none).</summary>
    public bool ShouldRecord(in ActivityContext parent) => ShouldRecord(Percentage, parent);

    /// <summary>
    /// Whether a span is recorded: always when <paramref name="percent"/> is null (the application's sampler decides);
    /// otherwise the caller's decision when there is one, else a random draw.
    /// </summary>
    public static bool ShouldRecord(double? percent, in ActivityContext parent)
    {
        if (percent is not { } p)
        {
            return true;
        }

        if (parent.TraceId != default)
        {
            return (parent.TraceFlags & ActivityTraceFlags.Recorded) != 0;
        }

        return p >= 100 || (p > 0 && Random.Shared.NextDouble() * 100 < p);
    }

    /// <summary>
    /// A new trace context that says "not sampled", for a request the mesh decided not to trace and that has no
    /// context yet: propagated downstream, it makes the next hops respect the decision (as Envoy sends
    /// <c>x-b3-sampled: 0</c>) instead of drawing again.
    /// </summary>
    public static ActivityContext NewUnsampledContext() =>
        new(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None);
}
