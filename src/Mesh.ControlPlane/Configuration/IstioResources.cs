using System.Text.Json;

namespace Mesh.ControlPlane.Configuration;

// The spec shapes of the Istio resources Mesh reads (networking.istio.io/v1, security.istio.io/v1), as JSON
// binds them. Field names follow Istio's API exactly; unknown fields are an error, as in Istio's own
// validation. Fields that Istio has and Mesh does not act on yet are bound as JsonElement so a valid Istio
// resource still loads; MeshModelBuilder reports them as ignored.

internal sealed class VirtualServiceSpec
{
    public List<string>? Hosts { get; set; }
    public List<string>? Gateways { get; set; }
    public List<string>? ExportTo { get; set; }
    public List<HttpRoute>? Http { get; set; }
    public JsonElement? Tcp { get; set; }
    public JsonElement? Tls { get; set; }
}

internal sealed class HttpRoute
{
    public string? Name { get; set; }
    public List<HttpMatchRequest>? Match { get; set; }
    public List<HttpRouteDestination>? Route { get; set; }
    public string? Timeout { get; set; }
    public HttpRetry? Retries { get; set; }
    public HttpFaultInjection? Fault { get; set; }
    public HttpRedirect? Redirect { get; set; }
    public HttpDirectResponse? DirectResponse { get; set; }
    public DelegateSpec? Delegate { get; set; }
    public HttpRewrite? Rewrite { get; set; }
    public Destination? Mirror { get; set; }
    public List<HttpMirrorPolicy>? Mirrors { get; set; }
    public Percent? MirrorPercentage { get; set; }
    public double? MirrorPercent { get; set; }
    public CorsPolicySpec? CorsPolicy { get; set; }
    public HeadersSpec? Headers { get; set; }
}

internal sealed class DelegateSpec
{
    public string? Name { get; set; }
    public string? Namespace { get; set; }
}

internal sealed class HttpRedirect
{
    public string? Uri { get; set; }
    public string? Authority { get; set; }
    public uint? Port { get; set; }
    public string? DerivePort { get; set; }
    public string? Scheme { get; set; }
    public uint? RedirectCode { get; set; }
}

internal sealed class HttpDirectResponse
{
    public uint? Status { get; set; }
    public HttpBody? Body { get; set; }
}

internal sealed class HttpBody
{
    public string? String { get; set; }
    public string? Bytes { get; set; }
}

internal sealed class HttpRewrite
{
    public string? Uri { get; set; }
    public string? Authority { get; set; }
    public RegexRewriteSpec? UriRegexRewrite { get; set; }
}

internal sealed class RegexRewriteSpec
{
    public string? Match { get; set; }
    public string? Rewrite { get; set; }
}

internal sealed class HttpMirrorPolicy
{
    public Destination? Destination { get; set; }
    public Percent? Percentage { get; set; }
}

internal sealed class CorsPolicySpec
{
    public List<StringMatch>? AllowOrigins { get; set; }
    public List<string>? AllowOrigin { get; set; }
    public List<string>? AllowMethods { get; set; }
    public List<string>? AllowHeaders { get; set; }
    public List<string>? ExposeHeaders { get; set; }
    public string? MaxAge { get; set; }
    public bool? AllowCredentials { get; set; }
    public string? UnmatchedPreflights { get; set; }
}

internal sealed class HeadersSpec
{
    public HeaderOperationsSpec? Request { get; set; }
    public HeaderOperationsSpec? Response { get; set; }
}

internal sealed class HeaderOperationsSpec
{
    public Dictionary<string, string>? Set { get; set; }
    public Dictionary<string, string>? Add { get; set; }
    public List<string>? Remove { get; set; }
}

internal sealed class HttpMatchRequest
{
    public string? Name { get; set; }
    public StringMatch? Uri { get; set; }
    public StringMatch? Scheme { get; set; }
    public StringMatch? Method { get; set; }
    public StringMatch? Authority { get; set; }
    public Dictionary<string, StringMatch>? Headers { get; set; }
    public Dictionary<string, StringMatch>? WithoutHeaders { get; set; }
    public Dictionary<string, StringMatch>? QueryParams { get; set; }
    public uint? Port { get; set; }
    public Dictionary<string, string>? SourceLabels { get; set; }
    public List<string>? Gateways { get; set; }
    public bool? IgnoreUriCase { get; set; }
    public string? SourceNamespace { get; set; }
    public string? StatPrefix { get; set; }
}

internal sealed class StringMatch
{
    public string? Exact { get; set; }
    public string? Prefix { get; set; }
    public string? Regex { get; set; }
}

internal sealed class HttpRouteDestination
{
    public Destination? Destination { get; set; }
    public int? Weight { get; set; }
    public HeadersSpec? Headers { get; set; }
}

internal sealed class Destination
{
    public string? Host { get; set; }
    public string? Subset { get; set; }
    public PortSelector? Port { get; set; }
}

internal sealed class PortSelector
{
    public uint? Number { get; set; }
}

internal sealed class HttpRetry
{
    public int? Attempts { get; set; }
    public string? PerTryTimeout { get; set; }
    public string? RetryOn { get; set; }
    public bool? RetryRemoteLocalities { get; set; }
    public bool? RetryIgnorePreviousHosts { get; set; }
    public string? Backoff { get; set; }
}

internal sealed class HttpFaultInjection
{
    public FaultDelay? Delay { get; set; }
    public FaultAbort? Abort { get; set; }
}

internal sealed class FaultDelay
{
    public Percent? Percentage { get; set; }
    public string? FixedDelay { get; set; }
    public string? ExponentialDelay { get; set; }
    public int? Percent { get; set; }
}

internal sealed class FaultAbort
{
    public Percent? Percentage { get; set; }
    public int? HttpStatus { get; set; }
    public string? GrpcStatus { get; set; }
    public string? Http2Error { get; set; }
}

internal sealed class Percent
{
    public double? Value { get; set; }
}

internal sealed class DestinationRuleSpec
{
    public string? Host { get; set; }
    public TrafficPolicy? TrafficPolicy { get; set; }
    public List<Subset>? Subsets { get; set; }
    public List<string>? ExportTo { get; set; }
    public WorkloadSelector? WorkloadSelector { get; set; }
}

internal sealed class Subset
{
    public string? Name { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public TrafficPolicy? TrafficPolicy { get; set; }
}

internal sealed class TrafficPolicy
{
    public LoadBalancerSettings? LoadBalancer { get; set; }
    public ConnectionPoolSettings? ConnectionPool { get; set; }
    public OutlierDetection? OutlierDetection { get; set; }
    public ClientTlsSettings? Tls { get; set; }
    public List<PortTrafficPolicy>? PortLevelSettings { get; set; }
    public JsonElement? Tunnel { get; set; }
    public JsonElement? ProxyProtocol { get; set; }
}

internal sealed class LoadBalancerSettings
{
    public string? Simple { get; set; }
    public ConsistentHashLb? ConsistentHash { get; set; }
    public LocalityLbSettingSpec? LocalityLbSetting { get; set; }
    public string? WarmupDurationSecs { get; set; }
    public WarmupSpec? Warmup { get; set; }
}

internal sealed class WarmupSpec
{
    public string? Duration { get; set; }
    public double? MinimumPercent { get; set; }
    public double? Aggression { get; set; }
}

internal sealed class ConsistentHashLb
{
    public string? HttpHeaderName { get; set; }
    public HttpCookieSpec? HttpCookie { get; set; }
    public bool? UseSourceIp { get; set; }
    public string? HttpQueryParameterName { get; set; }
    public RingHashSettings? RingHash { get; set; }
    public JsonElement? Maglev { get; set; }
    public ulong? MinimumRingSize { get; set; }
}

internal sealed class HttpCookieSpec
{
    public string? Name { get; set; }
    public string? Path { get; set; }
    public string? Ttl { get; set; }
    public JsonElement? Attributes { get; set; }
}

internal sealed class LocalityLbSettingSpec
{
    public List<LocalityDistribute>? Distribute { get; set; }
    public List<LocalityFailover>? Failover { get; set; }
    public List<string>? FailoverPriority { get; set; }
    public bool? Enabled { get; set; }
}

internal sealed class LocalityDistribute
{
    public string? From { get; set; }
    public Dictionary<string, uint>? To { get; set; }
}

internal sealed class LocalityFailover
{
    public string? From { get; set; }
    public string? To { get; set; }
}

internal sealed class PortTrafficPolicy
{
    public PortSelector? Port { get; set; }
    public LoadBalancerSettings? LoadBalancer { get; set; }
    public ConnectionPoolSettings? ConnectionPool { get; set; }
    public OutlierDetection? OutlierDetection { get; set; }
    public ClientTlsSettings? Tls { get; set; }
}

internal sealed class RingHashSettings
{
    public ulong? MinimumRingSize { get; set; }
}

internal sealed class ConnectionPoolSettings
{
    public JsonElement? Tcp { get; set; }
    public HttpConnectionPool? Http { get; set; }
}

internal sealed class HttpConnectionPool
{
    public int? Http1MaxPendingRequests { get; set; }
    public int? Http2MaxRequests { get; set; }
    public int? MaxRequestsPerConnection { get; set; }
    public int? MaxRetries { get; set; }
    public string? IdleTimeout { get; set; }
    public string? H2UpgradePolicy { get; set; }
    public bool? UseClientProtocol { get; set; }
    public int? MaxConcurrentStreams { get; set; }
}

internal sealed class OutlierDetection
{
    public int? ConsecutiveErrors { get; set; }
    public int? Consecutive5xxErrors { get; set; }
    public int? ConsecutiveGatewayErrors { get; set; }
    public int? ConsecutiveLocalOriginFailures { get; set; }
    public bool? SplitExternalLocalOriginErrors { get; set; }
    public string? Interval { get; set; }
    public string? BaseEjectionTime { get; set; }
    public int? MaxEjectionPercent { get; set; }
    public int? MinHealthPercent { get; set; }
}

internal sealed class ClientTlsSettings
{
    public string? Mode { get; set; }
    public string? ClientCertificate { get; set; }
    public string? PrivateKey { get; set; }
    public string? CaCertificates { get; set; }
    public string? CredentialName { get; set; }
    public List<string>? SubjectAltNames { get; set; }
    public string? Sni { get; set; }
    public bool? InsecureSkipVerify { get; set; }
}

internal sealed class WorkloadSelector
{
    public Dictionary<string, string>? Labels { get; set; }
    public Dictionary<string, string>? MatchLabels { get; set; }
}

internal sealed class ServiceEntrySpec
{
    public List<string>? Hosts { get; set; }
    public List<string>? Addresses { get; set; }
    public List<ServiceEntryPort>? Ports { get; set; }
    public string? Location { get; set; }
    public string? Resolution { get; set; }
    public List<WorkloadEntrySpec>? Endpoints { get; set; }
    public WorkloadSelector? WorkloadSelector { get; set; }
    public List<string>? ExportTo { get; set; }
    public List<string>? SubjectAltNames { get; set; }
}

internal sealed class ServiceEntryPort
{
    public uint? Number { get; set; }
    public string? Protocol { get; set; }
    public string? Name { get; set; }
    public uint? TargetPort { get; set; }
}

internal sealed class WorkloadEntrySpec
{
    public string? Address { get; set; }
    public Dictionary<string, uint>? Ports { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    public string? Network { get; set; }
    public string? Locality { get; set; }
    public uint? Weight { get; set; }
    public string? ServiceAccount { get; set; }
}

internal sealed class SidecarSpec
{
    public WorkloadSelector? WorkloadSelector { get; set; }
    public List<EgressListenerSpec>? Egress { get; set; }
    public JsonElement? Ingress { get; set; }
    public JsonElement? OutboundTrafficPolicy { get; set; }
    public JsonElement? InboundConnectionPool { get; set; }
}

internal sealed class EgressListenerSpec
{
    public JsonElement? Port { get; set; }
    public string? Bind { get; set; }
    public string? CaptureMode { get; set; }
    public List<string>? Hosts { get; set; }
}
