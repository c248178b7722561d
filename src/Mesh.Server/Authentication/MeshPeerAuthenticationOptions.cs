using Microsoft.AspNetCore.Authentication;

namespace Mesh.Server.Authentication;

/// <summary>
/// Options of the mesh peer authentication scheme (<see cref="MeshServerDefaults.AuthenticationScheme"/>). The scheme
/// has nothing to configure beyond ASP.NET Core's own scheme options (events type, forwarding).
/// </summary>
public sealed class MeshPeerAuthenticationOptions : AuthenticationSchemeOptions
{
}
