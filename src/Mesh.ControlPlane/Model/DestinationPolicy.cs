using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>The policies for traffic to one host (from a DestinationRule), and its subsets.</summary>
/// <param name="Host">The fully qualified host.</param>
/// <param name="Traffic">The policy for the whole service.</param>
/// <param name="Subsets">The named subsets, each with its policy (the service's, overridden by the subset's).</param>
/// <param name="DeclaredBy">The resource it came from.</param>
public sealed record DestinationPolicy(string Host, TrafficPolicy Traffic, ImmutableArray<SubsetPolicy> Subsets, string DeclaredBy)
{
    /// <summary>The subset with this name, or <see langword="null"/>.</summary>
    public SubsetPolicy? FindSubset(string name)
    {
        foreach (var subset in Subsets)
        {
            if (subset.Name == name)
            {
                return subset;
            }
        }

        return null;
    }
}

/// <summary>A named group of a service's endpoints, selected by labels.</summary>
public sealed record SubsetPolicy(string Name, ImmutableDictionary<string, string> Labels, TrafficPolicy Traffic);

/// <summary>Load-balancing algorithms.</summary>
public enum LoadBalancerKind
{
    /// <summary>Each endpoint in turn.</summary>
    RoundRobin,

    /// <summary>The endpoint with the fewest requests in flight among a few chosen at random.</summary>
    LeastRequest,

    /// <summary>An endpoint at random.</summary>
    Random,

    /// <summary>Consistent hashing on a request property, so the same key reaches the same endpoint.</summary>
    RingHash,
}

/// <summary>The policy for traffic to a service or subset.</summary>
public sealed record TrafficPolicy
{
    /// <summary>No policy: round robin, no limits.</summary>
    public static TrafficPolicy Default { get; } = new();

    /// <summary>The load-balancing algorithm.</summary>
    public LoadBalancerKind LoadBalancer { get; init; } = LoadBalancerKind.RoundRobin;

    /// <summary>For <see cref="LoadBalancerKind.RingHash"/>: the header hashed.</summary>
    public string? HashHeader { get; init; }

    /// <summary>For <see cref="LoadBalancerKind.RingHash"/>: the smallest ring size, if set.</summary>
    public ulong? MinimumRingSize { get; init; }

    /// <summary>Most requests in flight to the service at once (HTTP/2), if limited.</summary>
    public int? MaxRequests { get; init; }

    /// <summary>Most requests waiting for a connection at once, if limited.</summary>
    public int? MaxPendingRequests { get; init; }

    /// <summary>Most retries in flight to the service at once, if limited.</summary>
    public int? MaxRetries { get; init; }

    /// <summary>Outlier detection, if on.</summary>
    public OutlierPolicy? Outlier { get; init; }

    /// <summary>The TLS mode towards the destination: DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL, or null if unset.</summary>
    public string? TlsMode { get; init; }

    /// <summary>The whole TLS setting (files, credential, SNI, SANs) when the DestinationRule sets one.</summary>
    public UpstreamTlsSettings? Tls { get; init; }

    /// <summary>For <see cref="LoadBalancerKind.RingHash"/>: the cookie hashed, if the key is a cookie.</summary>
    public HashCookie? HashCookie { get; init; }

    /// <summary>For <see cref="LoadBalancerKind.RingHash"/>: whether the key is the caller (its source IP; for a proxyless client, its channel).</summary>
    public bool HashSourceIp { get; init; }

    /// <summary>For <see cref="LoadBalancerKind.RingHash"/>: the query parameter hashed, if the key is one.</summary>
    public string? HashQueryParameter { get; init; }

    /// <summary>How long a new endpoint's share ramps up (<c>warmupDurationSecs</c> or <c>warmup.duration</c>, slow start), if set.</summary>
    public TimeSpan? Warmup { get; init; }

    /// <summary>During the warmup, the smallest share of its weight a new endpoint gets, in percent (<c>warmup.minimumPercent</c>; Envoy's default 10 when unset).</summary>
    public double? WarmupMinimumPercent { get; init; }

    /// <summary>How fast the warmup ramps (<c>warmup.aggression</c>; 1 = linear when unset).</summary>
    public double? WarmupAggression { get; init; }

    /// <summary>The locality-aware load-balancing setting, if any.</summary>
    public LocalityLoadBalancing? Locality { get; init; }

    /// <summary>The policies of single ports (<c>portLevelSettings</c>), each the policy above with the port's fields laid over it.</summary>
    public ImmutableDictionary<int, TrafficPolicy> PortLevel { get; init; } = ImmutableDictionary<int, TrafficPolicy>.Empty;

    /// <summary>The policy for traffic to <paramref name="port"/>: its port-level policy, else this one.</summary>
    public TrafficPolicy ForPort(int port) => PortLevel.TryGetValue(port, out var own) ? own : this;
}

/// <summary>When to eject an endpoint from the load-balancing pool. Unset Istio fields take Envoy's defaults.</summary>
public sealed record OutlierPolicy
{
    /// <summary>Consecutive 5xx (or gRPC errors) that eject an endpoint; 0 turns this check off.</summary>
    public uint Consecutive5xxErrors { get; init; } = PolicyDefaults.Consecutive5xxErrors;

    /// <summary>Consecutive gateway errors (502, 503, 504) that eject an endpoint, if checked; 0 turns it off.</summary>
    public uint? ConsecutiveGatewayErrors { get; init; }

    /// <summary>How often the ejection analysis runs.</summary>
    public TimeSpan Interval { get; init; } = PolicyDefaults.OutlierInterval;

    /// <summary>The minimum ejection time, multiplied by the number of times ejected.</summary>
    public TimeSpan BaseEjectionTime { get; init; } = PolicyDefaults.BaseEjectionTime;

    /// <summary>The longest ejection: 300 s, or the base ejection time when that is longer (as Envoy does).</summary>
    public TimeSpan MaxEjectionTime => BaseEjectionTime > PolicyDefaults.MaxEjectionTime ? BaseEjectionTime : PolicyDefaults.MaxEjectionTime;

    /// <summary>The most endpoints that may be ejected at once, in percent.</summary>
    public int MaxEjectionPercent { get; init; } = PolicyDefaults.MaxEjectionPercent;
}
