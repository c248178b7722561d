using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Mesh.Benchmarks;

/// <summary>
/// "Metrics on, tracing unsampled", as an application with OpenTelemetry wired sees it, minus the SDK's own work: a
/// <see cref="MeterListener"/> enables every instrument of the Mesh.Client meter (its callbacks do nothing, so what is
/// measured is Mesh's cost of producing the measurements), and an <see cref="ActivityListener"/> on the Mesh.Client
/// source samples nothing — it answers as OpenTelemetry's SDK does for a dropped span: <c>PropagationData</c> for a
/// root or remote parent (the trace id still propagates), <c>None</c> otherwise. Without these listeners (metrics off)
/// nothing listens, as in an application that has not wired OpenTelemetry.
/// </summary>
internal sealed class TelemetryListeners : IDisposable
{
    private readonly MeterListener _meters = new();
    private readonly ActivityListener? _activities;

    private TelemetryListeners(bool tracing)
    {
        _meters.InstrumentPublished = static (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Mesh.Client")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        _meters.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        _meters.SetMeasurementEventCallback<int>(static (_, _, _, _) => { });
        _meters.Start();
        if (!tracing)
        {
            return;
        }

        _activities = new ActivityListener
        {
            ShouldListenTo = static source => source.Name == "Mesh.Client",
            Sample = static (ref ActivityCreationOptions<ActivityContext> options) =>
                options.Parent.TraceId == default || options.Parent.IsRemote ? ActivitySamplingResult.PropagationData : ActivitySamplingResult.None,
        };
        ActivitySource.AddActivityListener(_activities);
    }

    /// <summary>Subscribes the listeners until disposed.</summary>
    /// <param name="tracing">Whether to add the span listener (sampling nothing) to the metrics listener.</param>
    public static TelemetryListeners Start(bool tracing) => new(tracing);

    public void Dispose()
    {
        _activities?.Dispose();
        _meters.Dispose();
    }
}
