using Grpc.Core;
using Grpc.Core.Interceptors;
using Mesh.Client.Policies;
using Microsoft.Extensions.DependencyInjection;

namespace Grpc.Net.Client;

/// <summary>Mesh policies for channels built by hand.</summary>
public static class MeshGrpcChannelExtensions
{
    /// <summary>
    /// A call invoker for an <c>xds:///</c> channel that applies the mesh's route policies (fault injection, route
    /// timeouts, retries) on top of its routing and balancing. Clients made with <c>AddGrpcClient</c> get this
    /// automatically; use it as <c>new Greeter.GreeterClient(channel.CreateMeshCallInvoker(services, "xds:///greeter:9080"))</c>
    /// with the address the channel was made for.
    /// </summary>
    public static CallInvoker CreateMeshCallInvoker(this GrpcChannel channel, IServiceProvider services, string address)
    {
        var uri = new Uri(address);
        return channel
            .Intercept(services.GetRequiredService<MeshInterceptorFactory>().Create(uri))
            .Intercept(new Mesh.Client.Telemetry.MeshTelemetryInterceptor(services.GetRequiredService<Mesh.Client.Telemetry.ClientTelemetry>(), Mesh.Client.Telemetry.MeshTelemetryInterceptor.TargetOf(uri)));
    }

    /// <summary>
    /// Sets up channel options for an <c>xds:///</c> channel built by hand: the application's services (resolver,
    /// balancer, certificates), plaintext channel credentials, and an HTTP handler whose connections the mesh secures
    /// with mTLS where the destination cluster asks for it. Use as
    /// <c>GrpcChannel.ForAddress("xds:///reviews:9080", new GrpcChannelOptions().UseMesh(services))</c>.
    /// </summary>
    public static GrpcChannelOptions UseMesh(this GrpcChannelOptions options, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(services);
        options.ServiceProvider = services;
        options.Credentials ??= ChannelCredentials.Insecure;
        if (options.HttpHandler is null)
        {
            var handler = new System.Net.Http.SocketsHttpHandler { EnableMultipleHttp2Connections = true };
            Mesh.Client.Transport.MeshConnector.TryInstallForGrpc(handler);
            options.HttpHandler = handler;
        }
        else if (Mesh.Client.Transport.MeshConnector.FindSocketsHandler(options.HttpHandler) is { } sockets)
        {
            Mesh.Client.Transport.MeshConnector.TryInstallForGrpc(sockets);
        }

        // Telemetry per attempt (metadata exchange, sizes, outcome), below the balancer.
        if (options.HttpHandler is not Mesh.Client.Telemetry.MeshTelemetryHandler
            && services.GetService<Mesh.Client.Telemetry.ClientTelemetry>() is { } telemetry)
        {
            options.HttpHandler = new Mesh.Client.Telemetry.MeshTelemetryHandler(telemetry) { InnerHandler = options.HttpHandler };
        }

        return options;
    }
}
