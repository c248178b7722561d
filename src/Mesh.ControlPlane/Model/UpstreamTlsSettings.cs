using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// The TLS a client originates towards a destination (a DestinationRule's <c>trafficPolicy.tls</c>), as written:
/// the mode, where the certificates come from, and what the server must present.
/// </summary>
public sealed record UpstreamTlsSettings
{
    /// <summary>DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL.</summary>
    public required string Mode { get; init; }

    /// <summary>The client certificate file (MUTUAL), if set.</summary>
    public string? ClientCertificate { get; init; }

    /// <summary>The client's private key file (MUTUAL), if set.</summary>
    public string? PrivateKey { get; init; }

    /// <summary>The file of CA certificates that verify the server, if set.</summary>
    public string? CaCertificates { get; init; }

    /// <summary>The name of the secret holding the certificates (instead of files), if set.</summary>
    public string? CredentialName { get; init; }

    /// <summary>The identities the server's certificate may carry; any verified certificate when empty.</summary>
    public ImmutableArray<string> SubjectAltNames { get; init; } = [];

    /// <summary>The SNI sent in the handshake, if set.</summary>
    public string? Sni { get; init; }

    /// <summary>Whether the DestinationRule asked to skip verifying the server (never honoured by proxyless clients).</summary>
    public bool InsecureSkipVerify { get; init; }

    /// <summary>The certificate provider instance that stands for the system's trusted roots when no CA is named.</summary>
    public const string SystemRootsInstance = "system-roots";

    /// <summary>
    /// The certificate provider instance (gRFC A29) a proxyless client reads the roots from: the
    /// <see cref="CredentialName"/>, else the <see cref="CaCertificates"/> file's path, else <see cref="SystemRootsInstance"/>.
    /// A client whose bootstrap has no instance of that name fails the cluster closed, naming it.
    /// </summary>
    public string RootProviderInstance => CredentialName ?? CaCertificates ?? SystemRootsInstance;

    /// <summary>The certificate provider instance of the client's own certificate (MUTUAL): the <see cref="CredentialName"/>, else the <see cref="ClientCertificate"/> file's path.</summary>
    public string? IdentityProviderInstance => Mode == "MUTUAL" ? CredentialName ?? ClientCertificate : null;
}
