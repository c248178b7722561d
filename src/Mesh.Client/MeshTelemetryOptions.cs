namespace Mesh.Client;

/// <summary>
/// What the Mesh client measures and sends per call (<see cref="MeshClientOptions.Telemetry"/>). Everything is on by
/// default and costs close to nothing while nobody listens: request metrics are built only while a
/// <c>MeterListener</c> (e.g. OpenTelemetry's <c>AddMeshInstrumentation()</c>) has enabled one of the
/// <c>Mesh.Client</c> instruments, and client spans only while an <c>ActivityListener</c> samples the <c>Mesh.Client</c>
/// source. Turn a part off to take it off the call path entirely, whoever listens.
/// </summary>
public sealed class MeshTelemetryOptions
{
    /// <summary>
    /// Istio's request metrics (<c>istio_requests_total</c>, …) and gRPC's A66 call and attempt metrics on the
    /// <c>Mesh.Client</c> meter. True by default. When false, calls are neither counted, timed nor measured in bytes.
    /// </summary>
    public bool Metrics { get; set; } = true;

    /// <summary>
    /// A client span per call attempt on the <c>Mesh.Client</c> activity source, and the trace context
    /// (<c>traceparent</c>, B3) and <c>x-request-id</c> headers on every request. True by default. When false, no span is
    /// started and no trace header is written (an application's own propagation, e.g. HttpClient's, is unaffected).
    /// </summary>
    public bool Tracing { get; set; } = true;

    /// <summary>
    /// istio-proxy's metadata exchange: the <c>x-envoy-peer-metadata</c> and <c>-id</c> request headers, which a Mesh or
    /// Envoy server needs for its <c>source_*</c> labels. True by default. (The server's answer is always stripped from
    /// responses before the application sees them.)
    /// </summary>
    public bool MetadataExchange { get; set; } = true;
}
