using System.Text.Json;

namespace Mesh.ControlPlane.Configuration;

// The spec shape of Istio's Telemetry (telemetry.istio.io/v1 and v1alpha1), bound like IstioResources.cs: field names
// follow Istio's API exactly and unknown fields are an error. What Mesh does not apply is bound as JsonElement, so it
// can be reported as not applied (never dropped silently) rather than rejected as unknown.

internal sealed class TelemetrySpec
{
    public TelemetrySelector? Selector { get; set; }
    public JsonElement? TargetRef { get; set; }
    public JsonElement? TargetRefs { get; set; }
    public List<TelemetryTracingSpec?>? Tracing { get; set; }
    public JsonElement? Metrics { get; set; }
    public JsonElement? AccessLogging { get; set; }
}

internal sealed class TelemetrySelector
{
    public Dictionary<string, string>? MatchLabels { get; set; }
}

internal sealed class TelemetryTracingSpec
{
    public TelemetryTracingMatch? Match { get; set; }
    public JsonElement? Providers { get; set; }
    public double? RandomSamplingPercentage { get; set; }
    public JsonElement? DisableSpanReporting { get; set; }
    public JsonElement? CustomTags { get; set; }
    public JsonElement? UseRequestIdForTraceSampling { get; set; }
    public JsonElement? EnableIstioTags { get; set; }
}

internal sealed class TelemetryTracingMatch
{
    public string? Mode { get; set; }
}
