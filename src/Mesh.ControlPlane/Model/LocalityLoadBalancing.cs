using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// Locality-aware load balancing (a DestinationRule's <c>localityLbSetting</c>): where traffic from a locality goes
/// when its own locality fails (<see cref="Failover"/>, <see cref="FailoverPriority"/>), or how it is spread
/// (<see cref="Distribute"/>). Failover needs outlier detection to tell a locality has failed, as in Istio.
/// </summary>
public sealed record LocalityLoadBalancing
{
    /// <summary>Whether locality load balancing is on (default true).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Failover pairs: from a region to another region.</summary>
    public ImmutableArray<KeyValuePair<string, string>> Failover { get; init; } = [];

    /// <summary>The labels whose agreement with the caller orders failover priorities.</summary>
    public ImmutableArray<string> FailoverPriority { get; init; } = [];

    /// <summary>Weighted spreading: from a locality pattern, the share per target locality pattern.</summary>
    public ImmutableArray<KeyValuePair<string, ImmutableArray<KeyValuePair<string, uint>>>> Distribute { get; init; } = [];
}
