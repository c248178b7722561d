using System.Collections.Immutable;
using Mesh.Client.Routing;

namespace Mesh.Client.Resources;

// The validated, decoded forms of the four xDS resource types the client follows. Decoding happens once, when a
// resource arrives; everything per call reads these immutable records.

/// <summary>A listener: the HTTP connection manager of an API listener.</summary>
internal sealed record ListenerResource(string Name, string? RouteConfigName, RouteConfigResource? InlineRouteConfig, ImmutableArray<HttpFilterResource> HttpFilters)
{
    /// <summary>
    /// The percentage of calls without a caller's sampling decision that are traced (the connection manager's
    /// <c>tracing</c>: random_sampling capped by overall_sampling); null when the listener has no tracing settings.
    /// </summary>
    public double? RandomSampling { get; init; }

    /// <summary>
    /// What a gateway serves on this listener, when the API listener also carries an address and a filter chain (the
    /// shape Mesh's control plane sends a gateway workload); null for a plain client listener.
    /// </summary>
    public GatewayListenerResource? Gateway { get; init; }
}

/// <summary>The serving side of a gateway's listener: its port, protocol and the TLS it terminates.</summary>
/// <param name="Port">The port the listener's address names.</param>
/// <param name="Http2Only">Whether the connection manager speaks only HTTP/2 (GRPC and HTTP2 servers): plaintext h2c.</param>
/// <param name="Tls">The TLS terminated, or null for plaintext.</param>
internal sealed record GatewayListenerResource(int Port, bool Http2Only, GatewayTlsResource? Tls);

/// <summary>
/// The TLS a gateway terminates: the name of its certificate and key and, when clients must present certificates, the
/// name of the CA certificates they must chain to (SDS secret or certificate provider instance names, such as
/// <c>file-cert:&lt;cert&gt;~&lt;key&gt;</c>, <c>file-root:&lt;ca&gt;</c>, <c>kubernetes://&lt;secret&gt;</c>).
/// </summary>
internal sealed record GatewayTlsResource(string CertificateName, string? RootName, bool RequireClientCertificate);

/// <summary>An HTTP filter of a listener, by name and config type URL.</summary>
internal sealed record HttpFilterResource(string Name, string TypeUrl, Google.Protobuf.WellKnownTypes.Any Config, bool IsOptional);

/// <summary>A route configuration.</summary>
internal sealed record RouteConfigResource(string Name, ImmutableArray<VirtualHostResource> VirtualHosts);

/// <summary>A virtual host: the routes for a set of domains.</summary>
internal sealed record VirtualHostResource(string Name, ImmutableArray<string> Domains, ImmutableArray<RouteResource> Routes)
{
    /// <summary>Per-virtual-host filter configs (typed_per_filter_config), by filter name.</summary>
    public ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any> FilterOverrides { get; init; } = ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any>.Empty;

    /// <summary>Whether plaintext requests to the host are redirected to https (Envoy's <c>require_tls</c>, set by a gateway's httpsRedirect).</summary>
    public bool RequireTls { get; init; }
}

/// <summary>A route: a compiled match, what to do with matching calls, and the per-route HTTP filter overrides.</summary>
internal sealed record RouteResource(string Name, RouteMatcher Match, RouteActionResource? Action)
{
    /// <summary>
    /// What the route does to an HTTP request besides choosing a cluster (redirect, direct response, rewrite, header
    /// changes, mirrors), which the HttpClient path applies; null when nothing.
    /// </summary>
    public Routing.RouteActions.HttpRouteActions? HttpActions { get; init; }

    /// <summary>Per-route filter configs (typed_per_filter_config), by filter name.</summary>
    public ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any> FilterOverrides { get; init; } = ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any>.Empty;
}

/// <summary>How calls on a route are retried (gRFC A44).</summary>
/// <param name="RetryOn">The gRPC status codes that are retried.</param>
/// <param name="MaxAttempts">Attempts in all, the first included (num_retries + 1, at most 5).</param>
/// <param name="PerTryTimeout">Each attempt's timeout, if any.</param>
/// <param name="BaseBackoff">The first backoff (25 ms by default).</param>
/// <param name="MaxBackoff">The largest backoff (250 ms by default, or 10× a configured base).</param>
/// <param name="HttpConditions">
/// Envoy's HTTP retry conditions in retry_on (5xx, gateway-error, connect-failure, reset, refused-stream, retriable-4xx,
/// retriable-status-codes), for the HttpClient path.
/// </param>
internal sealed record RetryPolicyResource(ImmutableHashSet<Grpc.Core.StatusCode> RetryOn, int MaxAttempts, TimeSpan? PerTryTimeout, TimeSpan BaseBackoff, TimeSpan MaxBackoff, ImmutableHashSet<string> HttpConditions)
{
    /// <summary>The HTTP statuses retried under <c>retriable-status-codes</c> (retriable_status_codes), for the HttpClient path.</summary>
    public ImmutableHashSet<int> RetriableStatusCodes { get; init; } = [];
}

/// <summary>Where a matching call goes: one or more weighted clusters.</summary>
internal sealed record RouteActionResource(ImmutableArray<WeightedClusterResource> Clusters, ImmutableArray<string> HashHeaders, TimeSpan? MaxStreamDuration)
{
    /// <summary>The retry policy, if calls are retried: the route's, or else its virtual host's (gRFC A44).</summary>
    public RetryPolicyResource? Retry { get; init; }

    /// <summary>
    /// Every hash policy of the route in order (gRFC A42): header and channel-id policies, each with its terminal
    /// flag. <see cref="HashHeaders"/> lists only the header names.
    /// </summary>
    public ImmutableArray<HashPolicyResource> HashPolicies { get; init; } = [];

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
internal sealed record WeightedClusterResource(string Name, uint Weight)
{
    /// <summary>
    /// Per-cluster filter configs (typed_per_filter_config of the weighted cluster, gRFC A39), by filter name; they
    /// override the route's and the virtual host's for calls sent to this cluster.
    /// </summary>
    public ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any> FilterOverrides { get; init; } = ImmutableDictionary<string, Google.Protobuf.WellKnownTypes.Any>.Empty;
}

/// <summary>What a ring-hash hash policy of a route hashes (gRFC A42).</summary>
internal enum HashPolicyKind
{
    /// <summary>The values of a request header, joined with commas.</summary>
    Header,

    /// <summary>The channel's random id (filter_state key <c>io.grpc.channel_id</c>): every call of a channel lands together.</summary>
    ChannelId,

    /// <summary>The value of a cookie of the request (Istio <c>httpCookie</c>); absent, the policy produces no hash.</summary>
    Cookie,

    /// <summary>The value of a query parameter of the request (Istio <c>httpQueryParameterName</c>).</summary>
    QueryParameter,
}

/// <summary>One hash policy of a route (gRFC A42), in order.</summary>
/// <param name="Kind">What is hashed.</param>
/// <param name="HeaderName">The header (lower-cased), cookie or query parameter name; empty for <see cref="HashPolicyKind.ChannelId"/>.</param>
/// <param name="Terminal">Stop at this policy when it produced a hash.</param>
internal sealed record HashPolicyResource(HashPolicyKind Kind, string HeaderName, bool Terminal);

/// <summary>The load-balancing policies a cluster may ask for.</summary>
internal enum LbPolicyKind
{
    RoundRobin,
    LeastRequest,
    RingHash,

    /// <summary>pick_first (gRFC A62), chosen through load_balancing_policy (A52).</summary>
    PickFirst,
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

    /// <summary>
    /// Slow start of round robin or least request (Envoy's <c>slow_start_config</c>, from <c>lb_policy</c>'s settings),
    /// or null. gRPC clients have no slow start; Mesh.Client ramps new endpoints up as Envoy does.
    /// </summary>
    public LoadBalancing.SlowStartConfig? SlowStart { get; init; }

    /// <summary>For <see cref="LbPolicyKind.PickFirst"/>: shuffle the endpoint list before connecting (gRFC A62).</summary>
    public bool ShuffleAddressList { get; init; }

    /// <summary>
    /// Whether the policy came from <c>load_balancing_policy</c> (gRFC A52) rather than the <c>lb_policy</c> enum,
    /// and the type URL of the entry that was chosen; null for the enum.
    /// </summary>
    public string? LoadBalancingPolicyTypeUrl { get; init; }

    /// <summary>
    /// For a LOGICAL_DNS or STRICT_DNS cluster (gRFC A37): its endpoints as listed, host names unresolved, which the
    /// client resolves into the cluster's endpoints; null for an EDS cluster.
    /// </summary>
    public EndpointsResource? DnsTargets { get; init; }

    /// <summary>Whether the cluster is LOGICAL_DNS (one name) rather than STRICT_DNS; meaningful with <see cref="DnsTargets"/>.</summary>
    public bool IsLogicalDns { get; init; }

    /// <summary>Whether the cluster asks for load reports (gRFC A27: <c>lrs_server</c> is <c>self</c>, the ADS server).</summary>
    public bool ReportsLoad { get; init; }
}

/// <summary>The endpoints of a cluster, grouped by priority and locality; only usable ones (HEALTHY, UNKNOWN).</summary>
internal sealed record EndpointsResource(string Name, ImmutableArray<LocalityResource> Localities);

/// <summary>Endpoints in one locality at one priority.</summary>
internal sealed record LocalityResource(string Region, string Zone, string SubZone, uint Weight, uint Priority, ImmutableArray<EndpointResource> Endpoints)
{
    /// <summary>The locality as <c>region/zone/subzone</c>.</summary>
    public string Key => $"{Region}/{Zone}/{SubZone}";
}

/// <summary>One endpoint: an IP address (never a host name), a port in 1–65535 and a weight of at least 1.</summary>
internal sealed record EndpointResource(string Host, int Port, uint Weight)
{
    /// <summary>
    /// The endpoint hash key (gRFC A76): the string <c>hash_key</c> of the endpoint's <c>envoy.lb</c> metadata, which
    /// places the endpoint on a hash ring instead of its address; null when absent.
    /// </summary>
    public string? HashKey { get; init; }
}

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
internal sealed record FilterChainResource(string Name, string TransportProtocol, DownstreamTlsResource? Tls, ImmutableArray<HttpFilterResource> HttpFilters)
{
    /// <summary>The percentage of requests without a caller's sampling decision that are traced; null when not set.</summary>
    public double? RandomSampling { get; init; }
}

/// <summary>An xDS-enabled server's listener (gRFC A36): its address and filter chains.</summary>
internal sealed record ServerListenerResource(string Name, string Host, int Port, ImmutableArray<FilterChainResource> FilterChains, FilterChainResource? DefaultChain)
{
    /// <summary>The trace sampling of the listener's requests: the first chain's that has one; null when none has.</summary>
    public double? RandomSampling
    {
        get
        {
            foreach (var chain in FilterChains)
            {
                if (chain.RandomSampling is not null)
                {
                    return chain.RandomSampling;
                }
            }

            return DefaultChain?.RandomSampling;
        }
    }

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
