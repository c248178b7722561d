using Mesh.Server;
using Mesh.Server.Authentication;
using Microsoft.AspNetCore.Authentication;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Offers the mesh peer identity to ASP.NET Core authentication.</summary>
public static class MeshPeerAuthenticationExtensions
{
    /// <summary>
    /// Adds the mesh peer scheme (<see cref="MeshServerDefaults.AuthenticationScheme"/>): a caller that connected over
    /// mutual TLS with a mesh certificate authenticates as its SPIFFE ID, so <c>UseAuthentication()</c>,
    /// <c>[Authorize]</c> and authorization policies (<c>RequireClaim(MeshServerDefaults.ServiceAccountClaimType, …)</c>)
    /// work with it. Make it the default with <c>AddAuthentication(MeshServerDefaults.AuthenticationScheme)</c>, or name
    /// it in a policy with <c>AddAuthenticationSchemes</c>. Requires <c>AddMeshServer()</c>.
    /// </summary>
    public static AuthenticationBuilder AddMeshPeer(this AuthenticationBuilder builder) =>
        builder.AddMeshPeer(MeshServerDefaults.AuthenticationScheme, configure: null);

    /// <summary>Adds the mesh peer scheme under <paramref name="scheme"/>; see <see cref="AddMeshPeer(AuthenticationBuilder)"/>.</summary>
    public static AuthenticationBuilder AddMeshPeer(this AuthenticationBuilder builder, string scheme, Action<MeshPeerAuthenticationOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddScheme<MeshPeerAuthenticationOptions, MeshPeerAuthenticationHandler>(scheme, configure);
    }
}
