namespace Mesh.ControlPlane.Model;

/// <summary>How a Gateway server terminates TLS (the subset of Istio's <c>ServerTLSSettings.TLSmode</c> Mesh serves).</summary>
public enum GatewayTlsMode
{
    /// <summary>No TLS: a plaintext server.</summary>
    None,

    /// <summary>TLS with the server's certificate; clients are not asked for one.</summary>
    Simple,

    /// <summary>TLS where the client must present a certificate that chains to the configured CA certificates.</summary>
    Mutual,
}
