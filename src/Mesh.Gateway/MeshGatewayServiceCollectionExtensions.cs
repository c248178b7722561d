using System.Net;
using Mesh.Gateway;
using Mesh.Gateway.Configuration;
using Mesh.Gateway.Forwarding;
using Mesh.Gateway.Hosting;
using Mesh.Gateway.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Mesh ingress gateway.</summary>
public static class MeshGatewayServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Mesh gateway: Mesh.Client (<c>AddMesh()</c>, configured by the workload's bootstrap as any workload
    /// is), YARP with its routes and clusters fed from the xDS listeners and route configurations of the Gateways
    /// selecting this workload, upstream calls through Mesh.Client's routing handler, and a Kestrel endpoint per
    /// server port in <see cref="MeshGatewayOptions.Listeners"/>. Then call <c>app.UseMeshGateway()</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the ports to serve.</param>
    /// <returns>YARP's builder, for more transforms or configuration.</returns>
    public static IReverseProxyBuilder AddMeshGateway(this IServiceCollection services, Action<MeshGatewayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddMesh();
        var options = services.AddOptions<MeshGatewayOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(static o => o.Listeners.Count > 0, "MeshGatewayOptions.Listeners must name at least one server port.")
            .Validate(static o => o.FirstConfigurationWait > TimeSpan.Zero, "MeshGatewayOptions.FirstConfigurationWait must be positive.")
            .ValidateOnStart();
        services.TryAddSingleton<GatewayCertificates>();
        services.TryAddSingleton<GatewayXdsConfiguration>();
        services.TryAddEnumerable(ServiceDescriptor.Transient<IConfigureOptions<KestrelServerOptions>, GatewayKestrelSetup>());

        // A proxy's client: no redirects followed, no cookie jar shared between users, bodies passed as they are.
        services.AddHttpClient(GatewayDefaults.HttpClientName)
            .AddMeshRouting()
            .UseSocketsHttpHandler((handler, _) =>
            {
                handler.AllowAutoRedirect = false;
                handler.UseCookies = false;
                handler.UseProxy = false;
                handler.AutomaticDecompression = DecompressionMethods.None;
                handler.EnableMultipleHttp2Connections = true;
            });

        var proxy = services.AddReverseProxy();
        services.Replace(ServiceDescriptor.Singleton<IForwarderHttpClientFactory, MeshForwarderHttpClientFactory>());
        services.AddSingleton<IProxyConfigProvider>(static sp => sp.GetRequiredService<GatewayXdsConfiguration>());
        proxy.AddTransforms<GatewayTransformProvider>();
        return proxy;
    }
}
