using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Server.Authentication;

/// <summary>
/// The caller's mesh identity as an ASP.NET Core authentication scheme: a request that came over mutual TLS with a mesh
/// certificate authenticates as its SPIFFE ID (claims <see cref="MeshServerDefaults.SpiffeIdClaimType"/>, namespace and
/// service account); a plaintext request, or one on an endpoint the mesh does not serve, has no result (so another
/// scheme may answer). A challenge is 401, a forbid 403 — ASP.NET Core's defaults.
/// </summary>
internal sealed class MeshPeerAuthenticationHandler(IOptionsMonitor<MeshPeerAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<MeshPeerAuthenticationOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Context.Features.Get<IMeshPeerIdentityFeature>() is not { PeerIdentity: { } peer })
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var ticket = new AuthenticationTicket(MeshPeerPrincipal.Create(peer, Scheme.Name), Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(ticket));
    }
}
