using Mesh.ControlPlane.Dashboard;
using Mesh.ControlPlane.Debugging;
using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Security;
using Mesh.ControlPlane.Xds;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Mesh control plane's endpoints.</summary>
public static class ControlPlaneEndpointRouteBuilderExtensions
{
    /// <summary>Maps the ADS and certificate signing gRPC services the /debug and /healthz endpoints and the /dashboard.</summary>
    public static IEndpointRouteBuilder MapMeshControlPlane(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<AggregatedDiscoveryServiceImpl>();
        endpoints.MapGrpcService<CertificateSigningService>();
        endpoints.MapGrpcService<LoadReportingServiceImpl>();
        var debug = DebugEndpoints.Map(endpoints);
        LoadzEndpoints.Map(debug); // /debug/loadz joins the other debug pages: HTTP port only
        DashboardEndpoints.Map(debug); // so does /dashboard
        return endpoints;
    }
}
