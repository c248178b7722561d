using Mesh.Client.Http;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Sends an HttpClient's requests through the mesh.</summary>
public static class MeshHttpClientBuilderExtensions
{
    /// <summary>
    /// Routes every request of this HttpClient through the mesh: <c>http://reviews/path</c> is matched against the
    /// target's routes (paths, headers, weighted splits) and sent to an endpoint chosen by the cluster's load-balancing
    /// policy, exactly as gRPC channels to <c>xds:///reviews</c> are. Requires <c>AddMesh()</c>.
    /// </summary>
    public static IHttpClientBuilder AddMeshRouting(this IHttpClientBuilder builder)
    {
        builder.Services.AddTransient<MeshRoutingHandler>();
        builder.Services.AddTransient<Mesh.Client.Telemetry.MeshCallTelemetryHandler>();
        builder.Services.AddTransient<Mesh.Client.Telemetry.MeshTelemetryHandler>();
        builder.Services.AddTransient<Mesh.Client.LoadReporting.LoadReportingHandler>();
        builder.UseSocketsHttpHandler((handler, _) => Mesh.Client.Transport.MeshConnector.InstallForHttp(handler));

        // Outermost to innermost: the call as Istio counts it, the mesh's routing and policies, each attempt.
        return builder
            .AddHttpMessageHandler<Mesh.Client.Telemetry.MeshCallTelemetryHandler>()
            .AddHttpMessageHandler<MeshRoutingHandler>()
            .AddHttpMessageHandler<Mesh.Client.LoadReporting.LoadReportingHandler>()
            .AddHttpMessageHandler<Mesh.Client.Telemetry.MeshTelemetryHandler>();
    }
}
