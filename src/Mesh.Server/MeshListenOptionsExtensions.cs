using Mesh.Client.Security;
using Mesh.Server.Listeners;
using Mesh.Server.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Mesh serving for one Kestrel endpoint.</summary>
public static class MeshListenOptionsExtensions
{
    /// <summary>
    /// Serves this endpoint the mesh's way: its inbound listener from the control plane decides mTLS and
    /// authorization (see <c>AddMeshServer()</c>, which applies this to every endpoint configured after it). Do not
    /// combine with <c>UseHttps()</c>: the mesh terminates TLS itself, with the workload certificate.
    /// </summary>
    public static ListenOptions UseMesh(this ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var services = listenOptions.ApplicationServices;
        if (services.GetService<ServerListenerRegistry>() is not { } listeners)
        {
            throw new InvalidOperationException("UseMesh() needs builder.Services.AddMeshServer().");
        }

        // ConfigureEndpointDefaults and an explicit UseMesh() may both reach an endpoint; apply once.
        if (AppliedEndpoints.TryAdd(listenOptions, true))
        {
            var certificates = services.GetService<CertificateProviderStore>();
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<MeshConnectionMiddleware>();
            listenOptions.Use(next => new MeshConnectionMiddleware(next, listenOptions, listeners, certificates, logger).OnConnectionAsync);
        }

        return listenOptions;
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ListenOptions, object> AppliedEndpoints = [];
}
