using Grpc.Core;

namespace Grpc.Net.Client;

/// <summary>Mesh policies for channels built by hand.</summary>
public static class MeshGrpcChannelExtensions
{
    /// <summary>
    /// The channel's own call invoker. Every <c>xds:///</c> channel applies the mesh's route policies (fault injection,
    /// route timeouts, retries) by itself, whichever way it was built, so this is no longer needed; it is kept so that
    /// code written for earlier versions still compiles and behaves the same.
    /// </summary>
    public static CallInvoker CreateMeshCallInvoker(this GrpcChannel channel, IServiceProvider services, string address)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return channel.CreateCallInvoker();
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

        return options;
    }
}
