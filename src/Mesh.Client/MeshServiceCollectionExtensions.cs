using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Grpc.Net.ClientFactory;
using Mesh.Client;
using Mesh.Client.Http;
using Mesh.Client.Internal;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Policies;
using Mesh.Client.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Mesh, the proxyless service mesh client, to an application.</summary>
public static class MeshServiceCollectionExtensions
{
    /// <summary>
    /// Adds Mesh: one xDS client for the process (from the gRPC xDS bootstrap), the <c>xds</c> resolver and the
    /// mesh load balancer for gRPC channels. Channels built with <c>GrpcChannel.ForAddress("xds:///reviews:9080",
    /// new GrpcChannelOptions { ServiceProvider = sp, Credentials = ChannelCredentials.Insecure })</c> or
    /// <c>AddGrpcClient&lt;T&gt;(o =&gt; o.Address = new Uri("xds:///reviews:9080"))</c> are then routed and balanced
    /// in-process. HttpClients get the same routing with <c>AddMeshRouting()</c>, and Microsoft.Extensions.ServiceDiscovery
    /// (<c>AddServiceDiscovery()</c>) resolves <c>http://reviews</c> through xDS.
    /// </summary>
    public static IMeshClientBuilder AddMesh(this IServiceCollection services, Action<MeshClientOptions>? configure = null)
    {
        var options = services.AddOptions<MeshClientOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshClientOptions>, MeshClientOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<XdsClientProvider>();
        services.TryAddSingleton(sp => new MeshClientStatus(sp.GetRequiredService<XdsClientProvider>()));
        services.TryAddSingleton<MeshClientStatusService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ResolverFactory, XdsResolverFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<LoadBalancerFactory, MeshLoadBalancerFactory>());
        services.TryAddSingleton<MeshTargetRegistry>();
        services.TryAddSingleton(Mesh.Client.Security.CertificateProviderStore.Create);
        services.AddServiceDiscoveryCore();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.ServiceDiscovery.IServiceEndpointProviderFactory, MeshServiceEndpointProviderFactory>());

        services.TryAddSingleton<MeshInterceptorFactory>();
        services.TryAddSingleton<Mesh.Client.Telemetry.ClientTelemetry>();

        // gRPC clients from the client factory that target xds:/// get plaintext credentials unless they set their own,
        // and the mesh interceptor (route faults, timeouts, retries). Post-configured, so the address is known.
        services.PostConfigureAll<GrpcClientFactoryOptions>(factory =>
        {
            factory.ChannelOptionsActions.Add(channel =>
            {
                if (factory.Address?.Scheme == "xds")
                {
                    if (channel.Credentials is null)
                    {
                        channel.Credentials = ChannelCredentials.Insecure;
                    }

                    // mTLS is per cluster: the mesh connector secures each connection its cluster asks for.
                    if (Mesh.Client.Transport.MeshConnector.FindSocketsHandler(channel.HttpHandler) is { } sockets)
                    {
                        Mesh.Client.Transport.MeshConnector.TryInstallForGrpc(sockets);
                    }

                    // Telemetry per attempt (metadata exchange, sizes, outcome), below the balancer.
                    if (channel.HttpHandler is { } handler && channel.ServiceProvider is { } provider)
                    {
                        channel.HttpHandler = new Mesh.Client.Telemetry.MeshTelemetryHandler(provider.GetRequiredService<Mesh.Client.Telemetry.ClientTelemetry>()) { InnerHandler = handler };
                    }
                }
            });
            if (factory.Address?.Scheme == "xds")
            {
                var address = factory.Address;
                factory.InterceptorRegistrations.Add(new InterceptorRegistration(
                    InterceptorScope.Channel, sp => new Mesh.Client.Telemetry.MeshTelemetryInterceptor(sp.GetRequiredService<Mesh.Client.Telemetry.ClientTelemetry>(), Mesh.Client.Telemetry.MeshTelemetryInterceptor.TargetOf(address))));
                factory.InterceptorRegistrations.Add(new InterceptorRegistration(
                    InterceptorScope.Channel, sp => sp.GetRequiredService<MeshInterceptorFactory>().Create(address)));
            }
        });
        return new MeshClientBuilder(services);
    }

    private sealed class MeshClientBuilder(IServiceCollection services) : IMeshClientBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
