using Mesh.OpenTelemetry;

namespace OpenTelemetry.Metrics;

/// <summary>Adds Mesh's metrics to an OpenTelemetry meter provider.</summary>
public static class MeshMeterProviderBuilderExtensions
{
    /// <summary>
    /// Collects the metrics of Mesh.Client and Mesh.Server: Istio's standard metrics (<c>istio_requests_total</c>,
    /// <c>istio_request_duration_milliseconds</c>, …, with Envoy's buckets, named exactly as Prometheus shows them from
    /// istio-proxy) and gRPC's A66 metrics. Use as <c>services.AddOpenTelemetry().WithMetrics(m =&gt; m.AddMeshInstrumentation())</c>.
    /// </summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The builder, for chaining.</returns>
    public static MeterProviderBuilder AddMeshInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var name in MeshInstrumentation.MeterNames)
        {
            builder.AddMeter(name);
        }

        return builder;
    }
}
