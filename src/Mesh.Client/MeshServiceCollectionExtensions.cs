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
        // Registered once however often AddMesh() is called (and whoever called it first, e.g. AddMeshServer()); a later
        // call only adds its configuration.
        if (services.Any(d => d.ServiceType == typeof(MeshClientMarker)))
        {
            if (configure is not null)
            {
                services.Configure(configure);
            }

            return new MeshClientBuilder(services);
        }

        services.AddSingleton<MeshClientMarker>();
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
        services.TryAddSingleton<Mesh.Client.Telemetry.ClientTelemetry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ResolverFactory, XdsResolverFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<LoadBalancerFactory, MeshLoadBalancerFactory>());
        services.TryAddSingleton<MeshTargetRegistry>();
        services.TryAddSingleton(Mesh.Client.LoadReporting.LoadReporter.Create);
        services.TryAddSingleton<ClusterRegistry>();
        services.TryAddSingleton(Mesh.Client.Security.CertificateProviderStore.Create);
        services.AddServiceDiscoveryCore();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.ServiceDiscovery.IServiceEndpointProviderFactory, MeshServiceEndpointProviderFactory>());

        // gRPC clients from the client factory that target xds:/// get plaintext credentials unless they set their own,
        // and the mesh connector on their handler (mTLS per cluster). Route policies need nothing here: the xds resolver
        // gives every xds:/// channel its call handler, however it was built.
        services.PostConfigureAll<GrpcClientFactoryOptions>(factory =>
        {
            factory.ChannelOptionsActions.Add(channel =>
            {
                if (factory.Address?.Scheme == "xds")
                {
                    channel.Credentials ??= ChannelCredentials.Insecure;
                    if (Mesh.Client.Transport.MeshConnector.FindSocketsHandler(channel.HttpHandler) is { } sockets)
                    {
                        Mesh.Client.Transport.MeshConnector.TryInstallForGrpc(sockets);
                    }
                }
            });
        });
        return new MeshClientBuilder(services);
    }

    /// <summary>Marks a service collection Mesh was added to.</summary>
    private sealed class MeshClientMarker;

    private sealed class MeshClientBuilder(IServiceCollection services) : IMeshClientBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
