using Yarp.ReverseProxy.Forwarder;

namespace Mesh.Gateway.Forwarding;

/// <summary>
/// Gives YARP the gateway's named HttpClient handler chain (<see cref="GatewayDefaults.HttpClientName"/>): Mesh.Client's
/// routing handler and its telemetry, load reporting and mTLS connector. So every forwarded request is routed, load
/// balanced, retried, timed out, fault-injected and secured by the mesh, exactly as an application's HttpClient is;
/// YARP adds no balancing or retries of its own.
/// </summary>
internal sealed class MeshForwarderHttpClientFactory(IHttpMessageHandlerFactory handlers) : IForwarderHttpClientFactory
{
    public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context) =>
        new(handlers.CreateHandler(GatewayDefaults.HttpClientName), disposeHandler: false);
}
