using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Mesh.Client.Telemetry;

/// <summary>
/// Istio's standard request metrics on one <see cref="Meter"/> (Mesh.Client reports as <c>source</c>, Mesh.Server as
/// <c>destination</c>). Names carry no unit, so exporters add no suffix: Prometheus sees <c>istio_requests_total</c>,
/// <c>istio_request_duration_milliseconds_bucket</c>, … exactly as from istio-proxy. Histograms use Envoy's default
/// buckets.
/// </summary>
internal sealed class IstioMetrics
{
    public IstioMetrics(Meter meter)
    {
        var buckets = new InstrumentAdvice<double> { HistogramBucketBoundaries = IstioLabels.EnvoyDefaultBuckets };
        Requests = meter.CreateCounter<long>(IstioLabels.RequestsTotal, unit: null, "Requests, by Istio's standard labels");
        Duration = meter.CreateHistogram(IstioLabels.RequestDuration, unit: null, "Request duration in milliseconds", tags: null, buckets);
        RequestBytes = meter.CreateHistogram(IstioLabels.RequestBytes, unit: null, "Request body sizes in bytes", tags: null, buckets);
        ResponseBytes = meter.CreateHistogram(IstioLabels.ResponseBytes, unit: null, "Response body sizes in bytes", tags: null, buckets);
        RequestMessages = meter.CreateCounter<long>(IstioLabels.RequestMessagesTotal, unit: null, "gRPC messages sent by the caller");
        ResponseMessages = meter.CreateCounter<long>(IstioLabels.ResponseMessagesTotal, unit: null, "gRPC messages sent by the server");
    }

    [ThreadStatic]
    private static KeyValuePair<string, object?>[]? t_tags;

    public Counter<long> Requests { get; }

    public Histogram<double> Duration { get; }

    public Histogram<double> RequestBytes { get; }

    public Histogram<double> ResponseBytes { get; }

    public Counter<long> RequestMessages { get; }

    public Counter<long> ResponseMessages { get; }

    /// <summary>Whether anyone listens; when not, callers skip building labels.</summary>
    public bool Enabled => Requests.Enabled || Duration.Enabled || RequestBytes.Enabled || ResponseBytes.Enabled;

    /// <summary>Records one finished request.</summary>
    public void Record(IstioRequest request)
    {
        if (!Enabled && !RequestMessages.Enabled)
        {
            return;
        }

        // One buffer per thread: listeners get the labels as a span and copy what they keep; Record does not re-enter.
        var buffer = t_tags ??= new KeyValuePair<string, object?>[IstioRequest.TagCount];
        request.FillTags(buffer);
        ReadOnlySpan<KeyValuePair<string, object?>> tags = buffer;
        Requests.Add(1, tags);
        Duration.Record(request.DurationMilliseconds, tags);
        RequestBytes.Record(request.RequestBytes, tags);
        ResponseBytes.Record(request.ResponseBytes, tags);
        if (request.Protocol == IstioLabels.Grpc)
        {
            RequestMessages.Add(request.RequestMessages, tags);
            ResponseMessages.Add(request.ResponseMessages, tags);
        }
    }
}
