using System.Collections.Immutable;
using Grpc.Net.Client.Balancer;
using Mesh.Client.Resources;

namespace Mesh.Client.Routing;

/// <summary>
/// Everything a channel needs from xDS at one moment, gathered by the resolver: the virtual host chosen for the
/// target, and every cluster its routes name with that cluster's endpoints (gRFC A74: the resolver hands the
/// balancer a complete, consistent configuration).
/// </summary>
internal sealed record XdsConfig(string ListenerName, VirtualHostResource VirtualHost, ImmutableDictionary<string, ClusterConfig> Clusters)
{
    /// <summary>The listener's HTTP filters, in order (the router last).</summary>
    public ImmutableArray<HttpFilterResource> HttpFilters { get; init; } = [];

    /// <summary>
    /// Whether the channel can secure its connections per cluster (its HTTP handler has the mesh connector). When it
    /// cannot, clusters that need mTLS fail their calls rather than connect in plaintext.
    /// </summary>
    public bool CanSecureConnections { get; init; } = true;

    /// <summary>Where the channel's balancer publishes its pickers for the channel's call handler (gRPC channels only).</summary>
    public LoadBalancing.ChannelPickers? Pickers { get; init; }

    /// <summary>The key under which the resolver passes the configuration to the balancer.</summary>
    public static readonly BalancerAttributesKey<XdsConfig> AttributeKey = new("mesh.xds-config");

    private const string ConfigKey = "mesh.xds-config";

    /// <summary>The service config of a channel whose xDS configuration has not arrived yet.</summary>
    public static Grpc.Net.Client.Configuration.ServiceConfig PendingServiceConfig { get; } = new()
    {
        LoadBalancingConfigs = { new Grpc.Net.Client.Configuration.LoadBalancingConfig(LoadBalancing.MeshLoadBalancerFactory.PolicyName) },
    };

    /// <summary>
    /// A service config naming the mesh balancer and carrying this configuration. Grpc.Net.Client (2.85) hands the
    /// balancer the resolver's load-balancing config on every update but not the resolver's attributes, so the
    /// configuration travels inside the policy's config object; the functional tests fail if that ever changes.
    /// </summary>
    public Grpc.Net.Client.Configuration.ServiceConfig ToServiceConfig()
    {
        var lb = new Grpc.Net.Client.Configuration.LoadBalancingConfig(LoadBalancing.MeshLoadBalancerFactory.PolicyName);
        ((IDictionary<string, object>)lb.Inner[lb.PolicyName]).Add(ConfigKey, this);
        return new Grpc.Net.Client.Configuration.ServiceConfig { LoadBalancingConfigs = { lb } };
    }

    private const string ErrorKey = "mesh.xds-error";

    /// <summary>
    /// A service config naming the mesh balancer and carrying a resolution error. Errors travel like configurations
    /// because Grpc.Net.Client does not pass a failed resolver result on to the balancer once it has had a good one.
    /// </summary>
    public static Grpc.Net.Client.Configuration.ServiceConfig ErrorServiceConfig(Grpc.Core.Status error)
    {
        var lb = new Grpc.Net.Client.Configuration.LoadBalancingConfig(LoadBalancing.MeshLoadBalancerFactory.PolicyName);
        ((IDictionary<string, object>)lb.Inner[lb.PolicyName]).Add(ErrorKey, error);
        return new Grpc.Net.Client.Configuration.ServiceConfig { LoadBalancingConfigs = { lb } };
    }

    /// <summary>The resolution error in a channel state, if any.</summary>
    public static Grpc.Core.Status? ErrorFrom(ChannelState state)
    {
        if (state.Status.StatusCode != Grpc.Core.StatusCode.OK)
        {
            return state.Status;
        }

        return state.LoadBalancingConfig?.Inner.TryGetValue(state.LoadBalancingConfig.PolicyName, out var inner) == true
            && inner is IDictionary<string, object> values && values.TryGetValue(ErrorKey, out var error)
            ? (Grpc.Core.Status)error
            : null;
    }

    /// <summary>The configuration in a channel state, from its attributes or its load-balancing config.</summary>
    public static XdsConfig? From(ChannelState state)
    {
        if (state.Attributes.TryGetValue(AttributeKey, out var fromAttributes))
        {
            return fromAttributes;
        }

        return state.LoadBalancingConfig?.Inner.TryGetValue(state.LoadBalancingConfig.PolicyName, out var inner) == true
            && inner is IDictionary<string, object> values && values.TryGetValue(ConfigKey, out var config)
            ? config as XdsConfig
            : null;
    }
}

/// <summary>A cluster with its endpoints, or why it cannot be used.</summary>
internal sealed record ClusterConfig(string Name, ClusterResource? Cluster, EndpointsResource? Endpoints, string? Error);

/// <summary>Chooses the virtual host for an authority the way Envoy and gRPC do (A27).</summary>
internal static class VirtualHostSelector
{
    public static VirtualHostResource? Select(IReadOnlyList<VirtualHostResource> hosts, string authority)
    {
        VirtualHostResource? best = null;
        var bestRank = int.MaxValue;
        var bestLength = -1;
        foreach (var host in hosts)
        {
            foreach (var domain in host.Domains)
            {
                var (rank, length) = Rank(domain, authority);
                if (rank < bestRank || (rank == bestRank && length > bestLength))
                {
                    best = host;
                    bestRank = rank;
                    bestLength = length;
                }
            }
        }

        return best;
    }

    // 0 exact, 1 suffix wildcard (*.example.com), 2 prefix wildcard (example.*), 3 "*", MaxValue no match.
    private static (int Rank, int Length) Rank(string domain, string authority)
    {
        if (domain == "*")
        {
            return (3, 1);
        }

        if (string.Equals(domain, authority, StringComparison.OrdinalIgnoreCase))
        {
            return (0, domain.Length);
        }

        if (domain.StartsWith('*') && authority.EndsWith(domain.AsSpan(1), StringComparison.OrdinalIgnoreCase) && authority.Length > domain.Length - 1)
        {
            return (1, domain.Length);
        }

        if (domain.EndsWith('*') && authority.StartsWith(domain.AsSpan(0, domain.Length - 1), StringComparison.OrdinalIgnoreCase) && authority.Length > domain.Length - 1)
        {
            return (2, domain.Length);
        }

        return (int.MaxValue, 0);
    }
}
