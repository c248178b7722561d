using System.Net;

namespace Mesh.Gateway;

/// <summary>
/// Options of a Mesh gateway: which Gateway server ports it serves and where each listens. The servers themselves
/// (protocol, TLS, hosts, routes) come from the control plane over xDS, for the Gateways whose selector matches the
/// workload's labels in its bootstrap.
/// </summary>
public sealed class MeshGatewayOptions
{
    /// <summary>
    /// The server ports to serve, each with the address to listen on: <c>8080 → 0.0.0.0:8080</c> as in a container,
    /// or <c>8080 → 127.0.0.1:0</c> in a test. A port is served as the Gateway server with that <c>port.number</c>
    /// says (plaintext, TLS, httpsRedirect); it accepts no connection until its configuration has arrived.
    /// </summary>
    public IDictionary<int, IPEndPoint> Listeners { get; } = new SortedDictionary<int, IPEndPoint>();

    /// <summary>
    /// How long start-up waits for each port's first configuration (15 s by default): a port whose Gateway servers
    /// are all GRPC or HTTP2 listens for HTTP/2 only (plaintext h2c), which Kestrel fixes when the port opens.
    /// </summary>
    public TimeSpan FirstConfigurationWait { get; set; } = TimeSpan.FromSeconds(15);
}
