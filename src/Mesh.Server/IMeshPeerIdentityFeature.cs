using Mesh.Xds;

namespace Mesh.Server;

/// <summary>
/// The mesh's view of the caller of a request, on <c>HttpContext.Features</c>: whether the connection is mutual TLS,
/// and the caller's workload identity when it presented a mesh certificate. The same identity is on
/// <c>HttpContext.User</c> (authentication type <see cref="MeshServerDefaults.AuthenticationType"/>, claim
/// <see cref="MeshServerDefaults.SpiffeIdClaimType"/>).
/// </summary>
public interface IMeshPeerIdentityFeature
{
    /// <summary>The caller's SPIFFE ID, or null for a plaintext caller.</summary>
    SpiffeId? PeerIdentity { get; }

    /// <summary>Whether the connection is mutual TLS.</summary>
    bool IsMutualTls { get; }
}

/// <summary>Names Mesh.Server uses that applications may rely on.</summary>
public static class MeshServerDefaults
{
    /// <summary>The authentication type of the <c>ClaimsIdentity</c> of a mesh peer.</summary>
    public const string AuthenticationType = "mesh-mtls";

    /// <summary>The name of the mesh peer authentication scheme added by <c>AddMeshPeer()</c>.</summary>
    public const string AuthenticationScheme = AuthenticationType;

    /// <summary>The claim carrying the peer's SPIFFE ID (<c>spiffe://td/ns/ns/sa/sa</c>).</summary>
    public const string SpiffeIdClaimType = "spiffe_id";

    /// <summary>The claim carrying the peer's namespace.</summary>
    public const string NamespaceClaimType = "mesh/namespace";

    /// <summary>The claim carrying the peer's service account.</summary>
    public const string ServiceAccountClaimType = "mesh/service_account";
}
