using System.Collections.Immutable;
using Mesh.Client.Routing;

namespace Mesh.Client.Resources;

// The validated, decoded forms of the four xDS resource types the client follows. Decoding happens once, when a
// resource arrives; everything per call reads these immutable records.

/// <summary>A listener: the HTTP connection manager of an API listener.</summary>
internal sealed record ListenerResource(string Name, string? RouteConfigName, RouteConfigResource? InlineRouteConfig, ImmutableArray<HttpFilterResource> HttpFilters);

/// <summary>An HTTP filter of a listener, by name and config type URL.</summary>
internal sealed record HttpFilterResource(string Name, string TypeUrl, Google.Protobuf.WellKnownTypes.Any Config, bool IsOptional);

/// <summary>A route configuration.</summary>
internal sealed record RouteConfigResource(string Name, ImmutableArray<VirtualHostResource> VirtualHosts);

/// <summary>A virtual host: the routes for a set of domains.</summary>
internal sealed record VirtualHostResource(string Name, ImmutableArray<string> Domains, ImmutableArray<RouteResource> Routes)
{
    /// <summary>Per-virtual-host filter configs (typed_per_filter_config), by filter name.</summary>
    public ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any> FilterOverrides { get; init; } = ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any>.Empty;
}

/// <summary>A route: a compiled match, what to do with matching calls, and the per-route HTTP filter overrides.</summary>
internal sealed record RouteResource(string Name, RouteMatcher Match, RouteActionResource? Action)
{
    /// <summary>Per-route filter configs (typed_per_filter_config), by filter name.</summary>
    public ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any> FilterOverrides { get; init; } = ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any>.Empty;
}

/// <summary>How calls on a route are retried (gRFC A44).</summary>
/// <param name="RetryOn">The gRPC status codes that are retried.</param>
/// <param name="MaxAttempts">Attempts in all, the first included (num_retries + 1, at most 5).</param>
/// <param name="PerTryTimeout">Each attempt's timeout, if any.</param>
/// <param name="BaseBackoff">The first backoff (25 ms by default).</param>
/// <param name="MaxBackoff">The largest backoff (250 ms by default, or 10× a configured base).</param>
/// <param name="HttpConditions">Envoy's HTTP retry conditions in retry_on (5xx, gateway-error, connect-failure, reset), for the HttpClient path.</param>
internal sealed record RetryPolicyResource(ImmutableHashSet<Grpc.Core.StatusCode> RetryOn, int MaxAttempts, TimeSpan? PerTryTimeout, TimeSpan BaseBackoff, TimeSpan MaxBackoff, ImmutableHashSet<string> HttpConditions);

/// <summary>Where a matching call goes: one or more weighted clusters.</summary>
internal sealed record RouteActionResource(ImmutableArray<WeightedClusterResource> Clusters, ImmutableArray<string> HashHeaders, TimeSpan? MaxStreamDuration)
{
    /// <summary>The retry policy, if calls are retried.</summary>
    public RetryPolicyResource? Retry { get; init; }

    /// <summary>The sum of the weights.</summary>
    public ulong TotalWeight { get; } = Sum(Clusters);

    private static ulong Sum(ImmutableArray<WeightedClusterResource> clusters)
    {
        ulong total = 0;
        foreach (var c in clusters)
        {
            total += c.Weight;
        }

        return total;
    }
}

/// <summary>A cluster with its share of a route's traffic.</summary>
internal sealed record WeightedClusterResource(string Name, uint Weight);

/// <summary>The load-balancing policies a cluster may ask for.</summary>
internal enum LbPolicyKind
{
    RoundRobin,
    LeastRequest,
    RingHash,
}

/// <summary>A cluster: how to balance over its endpoints, and where they come from.</summary>
internal sealed record ClusterResource(
    string Name,
    string EdsServiceName,
    LbPolicyKind LbPolicy,
    ulong MinRingSize,
    ulong MaxRingSize,
    uint ChoiceCount,
    uint MaxRequests)
{
    /// <summary>Outlier detection (gRFC A50 plus consecutive 5xx), when the cluster has it.</summary>
    public LoadBalancing.OutlierDetection.OutlierDetectionConfig? Outlier { get; init; }

    /// <summary>The TLS towards the cluster's endpoints (gRFC A29), or null for plaintext.</summary>
    public UpstreamTlsResource? Tls { get; init; }
}

/// <summary>The endpoints of a cluster, grouped by priority and locality; only usable ones (HEALTHY, UNKNOWN).</summary>
internal sealed record EndpointsResource(string Name, ImmutableArray<LocalityResource> Localities);

/// <summary>Endpoints in one locality at one priority.</summary>
internal sealed record LocalityResource(string Region, string Zone, string SubZone, uint Weight, uint Priority, ImmutableArray<EndpointResource> Endpoints)
{
    /// <summary>The locality as <c>region/zone/subzone</c>.</summary>
    public string Key => $"{Region}/{Zone}/{SubZone}";
}

/// <summary>One endpoint.</summary>
internal sealed record EndpointResource(string Host, int Port, uint Weight);

/// <summary>
/// The TLS a client uses towards a cluster's endpoints (gRFC A29): the certificate provider instances of its own
/// certificate and of the roots, and the identities (SANs) a server may present — any of them, or any at all
/// when the list is empty.
/// </summary>
internal sealed record UpstreamTlsResource(
    string IdentityProvider,
    string IdentityCertificateName,
    string RootProvider,
    string RootCertificateName,
    ImmutableArray<HeaderCondition> SubjectAltNames,
    string Sni);

/// <summary>The TLS a server terminates on a filter chain (gRFC A29/A36).</summary>
internal sealed record DownstreamTlsResource(
    string IdentityProvider,
    string IdentityCertificateName,
    string? RootProvider,
    string? RootCertificateName,
    bool RequireClientCertificate,
    ImmutableArray<HeaderCondition> SubjectAltNames);

/// <summary>A filter chain of a server listener: which connections it takes, their TLS, and the HTTP filters.</summary>
/// <param name="Name">The chain's name.</param>
/// <param name="TransportProtocol">The transport protocol it matches (<c>tls</c>, <c>raw_buffer</c>), or empty for any.</param>
/// <param name="Tls">The TLS the chain terminates, or null for plaintext.</param>
/// <param name="HttpFilters">The HTTP filters of its connection manager, router last.</param>
internal sealed record FilterChainResource(string Name, string TransportProtocol, DownstreamTlsResource? Tls, ImmutableArray<HttpFilterResource> HttpFilters);

/// <summary>An xDS-enabled server's listener (gRFC A36): its address and filter chains.</summary>
internal sealed record ServerListenerResource(string Name, string Host, int Port, ImmutableArray<FilterChainResource> FilterChains, FilterChainResource? DefaultChain)
{
    /// <summary>
    /// The chain for a connection that is (<paramref name="tls"/>) or is not TLS: a chain naming that transport
    /// protocol first, then one naming none, then the default chain; null when none takes it.
    /// </summary>
    public FilterChainResource? Select(bool tls)
    {
        var wanted = tls ? Mesh.Xds.XdsSecurityNames.TlsTransportProtocol : Mesh.Xds.XdsSecurityNames.RawBufferTransportProtocol;
        FilterChainResource? any = null;
        foreach (var chain in FilterChains)
        {
            if (chain.TransportProtocol == wanted)
            {
                return chain;
            }

            if (chain.TransportProtocol.Length == 0)
            {
                any ??= chain;
            }
        }

        return any ?? DefaultChain;
    }
}
