namespace Mesh.ControlPlane.Model;

/// <summary>A fixed response answered instead of forwarding (Istio's <c>HTTPDirectResponse</c>).</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Body">The body, if any.</param>
public sealed record DirectResponsePolicy(int Status, string? Body);
