namespace Mesh.OpenTelemetry;

/// <summary>The names under which the Mesh packages publish their telemetry (public API: one Meter and one ActivitySource per package).</summary>
public static class MeshInstrumentation
{
    /// <summary>The meters: <c>Mesh.Client</c> (reporter <c>source</c>, gRPC client and xDS client metrics) and <c>Mesh.Server</c> (reporter <c>destination</c>).</summary>
    public static IReadOnlyList<string> MeterNames { get; } = ["Mesh.Client", "Mesh.Server"];

    /// <summary>The activity sources: <c>Mesh.Client</c> (a span per call attempt) and <c>Mesh.Server</c> (a span per request).</summary>
    public static IReadOnlyList<string> ActivitySourceNames { get; } = ["Mesh.Client", "Mesh.Server"];
}
