namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>The names and ports of Istio's sidecar layout, which Envoy sidecars and istio-proxy tooling expect.</summary>
public static class SidecarNames
{
    /// <summary>The outbound capture port (iptables redirects outgoing connections here).</summary>
    public const int OutboundCapturePort = 15001;

    /// <summary>The inbound capture port.</summary>
    public const int InboundCapturePort = 15006;

    /// <summary>The outbound capture listener.</summary>
    public const string VirtualOutbound = "virtualOutbound";

    /// <summary>The inbound capture listener.</summary>
    public const string VirtualInbound = "virtualInbound";

    /// <summary>The cluster that drops every connection.</summary>
    public const string BlackHoleCluster = "BlackHoleCluster";

    /// <summary>The cluster that forwards outbound traffic to its original destination.</summary>
    public const string PassthroughCluster = "PassthroughCluster";

    /// <summary>The cluster that forwards inbound traffic to its original destination on the pod.</summary>
    public const string InboundPassthroughCluster = "InboundPassthroughCluster";

    /// <summary>The static bootstrap cluster Envoy's SDS requests go to (the agent's socket).</summary>
    public const string SdsCluster = "sds-grpc";

    /// <summary>The name of the workload certificate secret.</summary>
    public const string WorkloadSecret = "default";

    /// <summary>The name of the trust bundle secret.</summary>
    public const string RootSecret = "ROOTCA";

    /// <summary>The filter metadata key Envoy matches <c>transport_socket_matches</c> against.</summary>
    public const string TransportSocketMatchKey = "envoy.transport_socket_match";

    /// <summary>The endpoint label (set by sidecar injection) that says the endpoint serves Istio mTLS.</summary>
    public const string TlsModeLabel = "security.istio.io/tlsMode";

    /// <summary>The metadata key of the TLS mode.</summary>
    public const string TlsModeKey = "tlsMode";

    /// <summary>The HTTP connection manager network filter.</summary>
    public const string HttpConnectionManagerFilter = "envoy.filters.network.http_connection_manager";

    /// <summary>The TCP proxy network filter.</summary>
    public const string TcpProxyFilter = "envoy.filters.network.tcp_proxy";

    /// <summary>The TLS inspector listener filter.</summary>
    public const string TlsInspectorFilter = "envoy.filters.listener.tls_inspector";

    /// <summary>The HTTP inspector listener filter.</summary>
    public const string HttpInspectorFilter = "envoy.filters.listener.http_inspector";

    /// <summary>The original destination listener filter.</summary>
    public const string OriginalDstFilter = "envoy.filters.listener.original_dst";

    /// <summary>The plaintext transport socket.</summary>
    public const string RawBufferSocket = "envoy.transport_sockets.raw_buffer";

    /// <summary>The key of the upstream HTTP protocol options in a cluster's typed_extension_protocol_options.</summary>
    public const string HttpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

    /// <summary>The ALPN values of Istio's mesh mTLS, which inbound mTLS chains of PERMISSIVE ports match on.</summary>
    public static IReadOnlyList<string> IstioMtlsAlpns { get; } = ["istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"];

    /// <summary>Ports a sidecar uses itself, which generated listeners must leave alone.</summary>
    public static IReadOnlyList<int> ReservedPorts { get; } = [15000, 15001, 15006, 15020, 15021, 15090];

    /// <summary>The per-port outbound listener name: <c>0.0.0.0_&lt;port&gt;</c>.</summary>
    public static string OutboundListener(int port) => $"0.0.0.0_{port}";

    /// <summary>The inbound cluster of a workload port: <c>inbound|&lt;port&gt;||</c>.</summary>
    public static string InboundCluster(int port) => $"inbound|{port}||";

    /// <summary>The SNI of an ISTIO_MUTUAL connection: <c>outbound_.&lt;port&gt;_.&lt;subset&gt;_.&lt;host&gt;</c>.</summary>
    public static string Sni(int port, string? subset, string host) => $"outbound_.{port}_.{subset}_.{host}";

    /// <summary>True for the HTTP family of protocols (HTTP, HTTP2, GRPC, GRPC-WEB), which get HTTP listeners.</summary>
    public static bool IsHttp(string protocol) =>
        protocol.ToUpperInvariant() is "HTTP" or "HTTP2" or "GRPC" or "GRPC-WEB" or "HTTP/1.1";

    /// <summary>True for protocols Envoy must speak HTTP/2 to upstream.</summary>
    public static bool IsHttp2(string protocol) => protocol.ToUpperInvariant() is "HTTP2" or "GRPC" or "GRPC-WEB";
}
