using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>One server of a Gateway: a port, its protocol, the hosts served on it and their TLS.</summary>
/// <param name="Port">The port number the gateway listens on.</param>
/// <param name="PortName">The port's name.</param>
/// <param name="Protocol">The protocol: <c>HTTP</c>, <c>HTTP2</c>, <c>GRPC</c> (plaintext) or <c>HTTPS</c>.</param>
/// <param name="Hosts">The hosts served, each with the namespaces whose VirtualServices may bind to it.</param>
/// <param name="Tls">The TLS settings: terminated TLS for HTTPS, or only <c>httpsRedirect</c> for plaintext; null for none.</param>
public sealed record GatewayServer(int Port, string PortName, string Protocol, ImmutableArray<GatewayHost> Hosts, GatewayServerTls? Tls)
{
    /// <summary>Whether the server terminates TLS.</summary>
    public bool IsHttps => Protocol == "HTTPS";
}
