namespace Mesh.ControlPlane.Configuration;

/// <summary>A kind of resource Mesh knows.</summary>
/// <param name="Kind">The kind, for example <c>VirtualService</c>.</param>
/// <param name="ApiVersions">The apiVersions it is accepted under.</param>
/// <param name="NotAppliedReason">Why resources of this kind are loaded but not applied to proxyless workloads, or null when they are applied.</param>
internal sealed record IstioResourceKind(string Kind, string[] ApiVersions, string? NotAppliedReason)
{
    /// <summary>The API group, the apiVersion's part before the slash (empty for the core group).</summary>
    public string Group => ApiVersions[0].Contains('/', StringComparison.Ordinal) ? ApiVersions[0][..ApiVersions[0].IndexOf('/', StringComparison.Ordinal)] : string.Empty;
}
