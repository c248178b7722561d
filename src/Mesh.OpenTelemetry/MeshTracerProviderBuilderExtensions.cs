using Mesh.OpenTelemetry;

namespace OpenTelemetry.Trace;

/// <summary>Adds Mesh's traces to an OpenTelemetry tracer provider.</summary>
public static class MeshTracerProviderBuilderExtensions
{
    /// <summary>
    /// Collects the spans of Mesh.Client (one per call attempt) and Mesh.Server (one per request), with the tags
    /// Envoy and Istio set. Use as <c>services.AddOpenTelemetry().WithTracing(t =&gt; t.AddMeshInstrumentation())</c>.
    /// </summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The builder, for chaining.</returns>
    public static TracerProviderBuilder AddMeshInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var name in MeshInstrumentation.ActivitySourceNames)
        {
            builder.AddSource(name);
        }

        return builder;
    }
}
