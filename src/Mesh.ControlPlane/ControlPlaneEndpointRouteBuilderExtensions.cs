using Mesh.ControlPlane.Debugging;
using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Security;
using Mesh.ControlPlane.Xds;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Mesh control plane's endpoints.</summary>
public static class ControlPlaneEndpointRouteBuilderExtensions
{
    /// <summary>Maps the ADS and certificate signing gRPC services and the /debug and /healthz endpoints.</summary>
    public static IEndpointRouteBuilder MapMeshControlPlane(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<AggregatedDiscoveryServiceImpl>();
        endpoints.MapGrpcService<CertificateSigningService>();
        endpoints.MapGrpcService<LoadReportingServiceImpl>();
        LoadzEndpoints.Map(DebugEndpoints.Map(endpoints)); // /debug/loadz joins the other debug pages: HTTP port only
        return endpoints;
    }
}
