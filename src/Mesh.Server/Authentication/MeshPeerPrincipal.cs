using System.Security.Claims;
using Mesh.Xds;

namespace Mesh.Server.Authentication;

/// <summary>The <see cref="ClaimsPrincipal"/> of a mesh peer: its SPIFFE ID, namespace and service account as claims.</summary>
internal static class MeshPeerPrincipal
{
    public static ClaimsPrincipal Create(SpiffeId peer, string authenticationType) => new(new ClaimsIdentity(
        [
            new Claim(MeshServerDefaults.SpiffeIdClaimType, peer.ToString()),
            new Claim(ClaimTypes.NameIdentifier, peer.ToString()),
            new Claim(MeshServerDefaults.NamespaceClaimType, peer.Namespace),
            new Claim(MeshServerDefaults.ServiceAccountClaimType, peer.ServiceAccount),
        ],
        authenticationType,
        ClaimTypes.NameIdentifier,
        ClaimTypes.Role));
}
