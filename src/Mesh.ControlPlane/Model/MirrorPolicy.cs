namespace Mesh.ControlPlane.Model;

/// <summary>A destination that receives a copy of matching requests, fire and forget.</summary>
/// <param name="Destination">Where copies go (weight unused).</param>
/// <param name="Percent">The share of requests copied, 0 to 100.</param>
public sealed record MirrorPolicy(WeightedDestination Destination, double Percent);
