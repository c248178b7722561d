namespace Mesh.ControlPlane.Model;

/// <summary>
/// The TLS of a Gateway server. For HTTPS, the certificate comes from a Kubernetes Secret
/// (<see cref="CredentialName"/>) or from files on the gateway (<see cref="ServerCertificate"/>,
/// <see cref="PrivateKey"/>, and <see cref="CaCertificates"/> for MUTUAL). A plaintext server carries only
/// <see cref="HttpsRedirect"/>.
/// </summary>
public sealed record GatewayServerTls
{
    /// <summary>How TLS is terminated; <see cref="GatewayTlsMode.None"/> on a plaintext server.</summary>
    public GatewayTlsMode Mode { get; init; }

    /// <summary>Whether plaintext requests are answered with a redirect to https (301).</summary>
    public bool HttpsRedirect { get; init; }

    /// <summary>The Secret holding the key, certificate and (MUTUAL) CA certificates, if certificates come from one.</summary>
    public string? CredentialName { get; init; }

    /// <summary>The path of the PEM certificate chain on the gateway, if certificates come from files.</summary>
    public string? ServerCertificate { get; init; }

    /// <summary>The path of the PEM private key on the gateway, if certificates come from files.</summary>
    public string? PrivateKey { get; init; }

    /// <summary>The path of the PEM CA certificates client certificates must chain to (MUTUAL), if from files.</summary>
    public string? CaCertificates { get; init; }
}
