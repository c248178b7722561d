using System.Text.Json;

namespace Mesh.ControlPlane.Configuration;

// The spec shape of Istio's Gateway (networking.istio.io/v1), as JSON binds it. Field names follow Istio's API
// exactly; unknown fields are an error, as in Istio's own validation. Fields Istio has and Mesh does not serve are
// bound so that a valid Istio Gateway still parses, and MeshModelBuilder rejects them by name rather than ignoring
// them (a gateway served without a TLS check the user asked for would be wider than the rule).

/// <summary>The <c>spec</c> of an Istio <c>Gateway</c>: which gateway workloads it configures, and their servers.</summary>
internal sealed class GatewaySpec
{
    /// <summary>The labels of the gateway workloads it applies to (for example <c>istio: ingressgateway</c>).</summary>
    public Dictionary<string, string>? Selector { get; set; }

    /// <summary>The servers: a port, a protocol, the hosts served there and their TLS.</summary>
    public List<GatewayServerSpec>? Servers { get; set; }
}

/// <summary>One server of a Gateway (Istio's <c>Server</c>).</summary>
internal sealed class GatewayServerSpec
{
    public GatewayPortSpec? Port { get; set; }
    public string? Bind { get; set; }
    public List<string>? Hosts { get; set; }
    public ServerTlsSpec? Tls { get; set; }
    public string? DefaultEndpoint { get; set; }
    public string? Name { get; set; }
}

/// <summary>A server's port (Istio's <c>Port</c>).</summary>
internal sealed class GatewayPortSpec
{
    public uint? Number { get; set; }
    public string? Protocol { get; set; }
    public string? Name { get; set; }
    public uint? TargetPort { get; set; }
}

/// <summary>A server's TLS (Istio's <c>ServerTLSSettings</c>).</summary>
internal sealed class ServerTlsSpec
{
    public bool? HttpsRedirect { get; set; }
    public string? Mode { get; set; }
    public string? ServerCertificate { get; set; }
    public string? PrivateKey { get; set; }
    public string? CaCertificates { get; set; }
    public string? CaCrl { get; set; }
    public string? CredentialName { get; set; }
    public List<string>? CredentialNames { get; set; }
    public List<JsonElement>? TlsCertificates { get; set; }
    public List<string>? SubjectAltNames { get; set; }
    public List<string>? VerifyCertificateSpki { get; set; }
    public List<string>? VerifyCertificateHash { get; set; }
    public string? MinProtocolVersion { get; set; }
    public string? MaxProtocolVersion { get; set; }
    public List<string>? CipherSuites { get; set; }
}
