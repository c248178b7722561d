using Mesh.Client.Internal;
using Mesh.Client.Security;
using Mesh.Server.Listeners;
using Mesh.Server.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Makes an ASP.NET Core application an xDS-enabled mesh server.</summary>
public static class MeshServerServiceCollectionExtensions
{
    /// <summary>
    /// Serves every Kestrel endpoint of the application the mesh's way (gRFC A36): each listening address follows
    /// its inbound listener from the control plane — PeerAuthentication (STRICT, PERMISSIVE, DISABLE; per port)
    /// decides whether connections must be mutual TLS, TLS uses the workload certificate (rotated without restart)
    /// and validates clients against the mesh's roots, the caller's SPIFFE ID is on <c>HttpContext.User</c> and
    /// <see cref="Mesh.Server.IMeshPeerIdentityFeature"/>, and AuthorizationPolicy is enforced per request. Calls
    /// <c>AddMesh()</c> when it was not called, for the bootstrap and xDS client. Endpoints configured with
    /// <c>Listen()</c> before this call get it with <c>listenOptions.UseMesh()</c>.
    /// </summary>
    public static IServiceCollection AddMeshServer(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(static d => d.ServiceType == typeof(XdsClientProvider)))
        {
            services.AddMesh();
        }

        services.TryAddSingleton<ServerListenerRegistry>();
        services.TryAddSingleton<Mesh.Server.Telemetry.ServerTelemetry>();
        services.TryAddEnumerable(ServiceDescriptor.Transient<IStartupFilter, MeshServerStartupFilter>());
        services.TryAddEnumerable(ServiceDescriptor.Transient<IConfigureOptions<KestrelServerOptions>, MeshKestrelSetup>());
        return services;
    }

    private sealed class MeshKestrelSetup : IConfigureOptions<KestrelServerOptions>
    {
        public void Configure(KestrelServerOptions options)
        {
            // Mesh clients secure connections below HTTP, so their requests say :scheme http over TLS; Kestrel
            // would otherwise reset such streams.
            options.AllowAlternateSchemes = true;
            options.ConfigureEndpointDefaults(static listen => listen.UseMesh());
        }
    }

    private sealed class MeshServerStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseMiddleware<Mesh.Server.Telemetry.MeshTelemetryMiddleware>();
            app.UseMiddleware<MeshServerMiddleware>();
            next(app);
        };
    }
}
