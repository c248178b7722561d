namespace Mesh.ControlPlane.Model;

/// <summary>A cookie consistent hashing keys on; with a TTL, a proxy sets it when the request lacks it.</summary>
/// <param name="Name">The cookie's name.</param>
/// <param name="Path">The cookie's path, if set.</param>
/// <param name="Ttl">The lifetime of a generated cookie, if set.</param>
public sealed record HashCookie(string Name, string? Path, TimeSpan? Ttl);
