namespace Mesh.Testing.Sidecar;

/// <summary>
/// A connection (and, for HTTP, one request on it) arriving at an Envoy sidecar: captured outbound
/// (<see cref="Inbound"/> false, from the app to <see cref="DestinationIp"/>:<see cref="Port"/>) or inbound (to the pod).
/// </summary>
public sealed record SimulatedCall
{
    /// <summary>The original destination IP address.</summary>
    public string DestinationIp { get; init; } = "10.255.0.1";

    /// <summary>The original destination port.</summary>
    public required int Port { get; init; }

    /// <summary>
    /// Whether the call arrives straight at the listener bound to <see cref="Port"/>, as at a gateway (no capture
    /// listener, no original-destination hand-off).
    /// </summary>
    public bool Direct { get; init; }

    /// <summary>Whether the call arrives at the pod (virtualInbound) rather than leaving it.</summary>
    public bool Inbound { get; init; }

    /// <summary>Whether the connection starts with a TLS ClientHello.</summary>
    public bool Tls { get; init; }

    /// <summary>The ALPN values the client offers in its ClientHello.</summary>
    public IReadOnlyList<string> Alpn { get; init; } = [];

    /// <summary>Whether the client presents a certificate (from the mesh CA).</summary>
    public bool ClientCertificate { get; init; }

    /// <summary>The SNI the client sends.</summary>
    public string? Sni { get; init; }

    /// <summary>The HTTP Host/:authority; null for a raw TCP connection.</summary>
    public string? Host { get; init; }

    /// <summary>The HTTP path.</summary>
    public string Path { get; init; } = "/";

    /// <summary>The HTTP request headers (lower-case names).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
}
