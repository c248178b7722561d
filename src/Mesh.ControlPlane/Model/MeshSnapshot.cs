using System.Collections.Immutable;
using Mesh.ControlPlane.Authorization;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// The whole mesh at one moment, validated: services with their endpoints, the routing rules and destination
/// policies that apply to them. Immutable; a new snapshot replaces the old one atomically. Free of any one
/// source: the YAML directory and Kubernetes both produce this.
/// </summary>
public sealed record MeshSnapshot
{
    /// <summary>An empty mesh.</summary>
    public static MeshSnapshot Empty { get; } = new() { Services = ImmutableDictionary<string, MeshService>.Empty };

    /// <summary>A number that grows with every accepted snapshot.</summary>
    public long Version { get; init; }

    /// <summary>Every service, by fully qualified host name.</summary>
    public required ImmutableDictionary<string, MeshService> Services { get; init; }

    /// <summary>The routing rules (from VirtualService), by the fully qualified host they apply to.</summary>
    public ImmutableDictionary<string, RouteTable> Routes { get; init; } = ImmutableDictionary<string, RouteTable>.Empty;

    /// <summary>The destination policies (from DestinationRule), by fully qualified host.</summary>
    public ImmutableDictionary<string, DestinationPolicy> Policies { get; init; } = ImmutableDictionary<string, DestinationPolicy>.Empty;

    /// <summary>The PeerAuthentication policies: which workloads accept mTLS, plaintext or both.</summary>
    public ImmutableArray<PeerAuthenticationPolicy> PeerAuthentications { get; init; } = [];

    /// <summary>The SPIFFE trust domain of workload identities, <c>cluster.local</c> by default.</summary>
    public string TrustDomain { get; init; } = "cluster.local";

    /// <summary>The AuthorizationPolicies of every namespace, ordered by namespace and name (see <see cref="AuthorizationPolicyScope"/>).</summary>
    public ImmutableArray<AuthorizationPolicyModel> AuthorizationPolicies { get; init; } = [];

    /// <summary>
    /// The resources that were loaded but are not applied to proxyless workloads (a Gateway, an EnvoyFilter, a
    /// Telemetry...), each with the reason, as /debug/configz reports them. They never reject a configuration.
    /// </summary>
    public ImmutableArray<Configuration.ConfigError> NotApplied { get; init; } = [];

    /// <summary>The Sidecars' egress scopes: which services each workload is sent (every one when none applies).</summary>
    public ImmutableArray<SidecarScope> Sidecars { get; init; } = [];

    /// <summary>The Telemetry resources' trace sampling (see <see cref="TelemetryPolicy.Sampling"/>).</summary>
    public ImmutableArray<TelemetryPolicy> Telemetries { get; init; } = [];

    /// <summary>The Istio Gateways, ordered by namespace and name: the servers of the gateway workloads they select.</summary>
    public ImmutableArray<IngressGateway> Gateways { get; init; } = [];

    /// <summary>The VirtualServices bound to Gateways (their <c>gateways</c> name one), ordered by namespace and name.</summary>
    public ImmutableArray<GatewayVirtualService> GatewayRoutes { get; init; } = [];

    /// <summary>The DNS suffix of the cluster, <c>cluster.local</c> by default.</summary>
    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>Finds a service by a name as a user or client writes it, relative to a namespace.</summary>
    public MeshService? FindService(string name, string fromNamespace) =>
        HostNames.Resolve(name, fromNamespace, ClusterDomain, Services.ContainsKey) is { } host ? Services[host] : null;
}

/// <summary>A service: a host name with ports, and the endpoints that serve it.</summary>
public sealed record MeshService
{
    /// <summary>The fully qualified host, for example <c>reviews.default.svc.cluster.local</c>.</summary>
    public required string Host { get; init; }

    /// <summary>The namespace the service was declared in.</summary>
    public required string Namespace { get; init; }

    /// <summary>The ports the service is reached on.</summary>
    public required ImmutableArray<ServicePort> Ports { get; init; }

    /// <summary>The endpoints (instances) that serve the service.</summary>
    public required ImmutableArray<ServiceEndpoint> Endpoints { get; init; }

    /// <summary>The resource that declared the service, for messages.</summary>
    public required string DeclaredBy { get; init; }

    /// <summary>How the endpoints' addresses become IP addresses: <see cref="ServiceResolution.Static"/> unless a ServiceEntry says otherwise.</summary>
    public ServiceResolution Resolution { get; init; } = ServiceResolution.Static;

    /// <summary>The namespaces the service is visible to (<c>exportTo</c>): <c>*</c> for all, <c>.</c> for its own, <c>~</c> for none, or names.</summary>
    public ImmutableArray<string> ExportTo { get; init; } = ["*"];

    /// <summary>Whether a workload in <paramref name="ns"/> may see the service.</summary>
    public bool IsExportedTo(string ns)
    {
        foreach (var item in ExportTo)
        {
            if (item == "*" || item == ns || (item == "." && ns == Namespace))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The port with this number, or <see langword="null"/>.</summary>
    public ServicePort? FindPort(int number)
    {
        foreach (var port in Ports)
        {
            if (port.Number == number)
            {
                return port;
            }
        }

        return null;
    }
}

/// <summary>A port of a service.</summary>
/// <param name="Number">The port clients connect to.</param>
/// <param name="Name">The port's name (may be empty).</param>
/// <param name="Protocol">The protocol: HTTP, HTTP2, GRPC, TCP, ...</param>
public sealed record ServicePort(int Number, string Name, string Protocol);

/// <summary>The health of an endpoint as the control plane sees it.</summary>
public enum EndpointHealth
{
    /// <summary>Ready to serve.</summary>
    Healthy,

    /// <summary>Not ready.</summary>
    Unhealthy,

    /// <summary>Shutting down: finish what is in flight, send nothing new.</summary>
    Draining,
}

/// <summary>Where an endpoint runs, as region/zone/sub-zone.</summary>
public sealed record Locality(string Region, string Zone, string SubZone)
{
    /// <summary>No locality.</summary>
    public static Locality None { get; } = new(string.Empty, string.Empty, string.Empty);

    /// <summary>Parses <c>region/zone/subzone</c>, any part of which may be missing.</summary>
    public static Locality Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return None;
        }

        var parts = text.Split('/');
        return new Locality(parts[0], parts.Length > 1 ? parts[1] : string.Empty, parts.Length > 2 ? parts[2] : string.Empty);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Region}/{Zone}/{SubZone}";
}

/// <summary>One instance of a service.</summary>
public sealed record ServiceEndpoint
{
    /// <summary>The IP address or host name of the instance.</summary>
    public required string Address { get; init; }

    /// <summary>The instance's port for each service port number (service port → target port).</summary>
    public required ImmutableDictionary<int, int> Ports { get; init; }

    /// <summary>The instance's labels, which subsets select on.</summary>
    public ImmutableDictionary<string, string> Labels { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Where the instance runs.</summary>
    public Locality Locality { get; init; } = Locality.None;

    /// <summary>The instance's relative load-balancing weight (1 when unset).</summary>
    public int Weight { get; init; } = 1;

    /// <summary>Whether the instance should receive traffic.</summary>
    public EndpointHealth Health { get; init; } = EndpointHealth.Healthy;

    /// <summary>The Kubernetes service account the instance runs as, the basis of its identity.</summary>
    public string ServiceAccount { get; init; } = "default";

    /// <summary>True when every label of <paramref name="selector"/> is on this endpoint with the same value.</summary>
    public bool Matches(ImmutableDictionary<string, string> selector)
    {
        foreach (var (key, value) in selector)
        {
            if (!Labels.TryGetValue(key, out var own) || own != value)
            {
                return false;
            }
        }

        return true;
    }
}
