using Envoy.Config.Cluster.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf;
using Mesh.Client.Xds;

namespace Mesh.Client.Resources;

/// <summary>Cluster validation: gRFC A27 (EDS), A29 (TLS), A32 (circuit breaking), A42 (ring hash), A48 (least request), A50 (outlier detection), A52 (load_balancing_policy), A62 (pick_first).</summary>
internal static partial class XdsResourceTypes
{
    /// <summary>The largest ring a ring-hash cluster may ask for (gRFC A42): 8M entries.</summary>
    public const ulong RingSizeUpperBound = 8 * 1024 * 1024;

    /// <summary>The default minimum ring size (gRFC A42).</summary>
    public const ulong DefaultMinRingSize = 1024;

    /// <summary>The largest choice_count a least-request cluster uses (gRFC A48): larger values are capped.</summary>
    public const uint MaxChoiceCount = 10;

    internal static XdsDecodeResult DecodeCluster(Cluster cluster)
    {
        var name = cluster.Name;
        if (cluster.ClusterDiscoveryTypeCase != Cluster.ClusterDiscoveryTypeOneofCase.Type
            || cluster.Type is not (Cluster.Types.DiscoveryType.Eds or Cluster.Types.DiscoveryType.LogicalDns or Cluster.Types.DiscoveryType.StrictDns))
        {
            return Fail(name, "type", "only EDS, LOGICAL_DNS and STRICT_DNS clusters are supported");
        }

        EndpointsResource? dns = null;
        if (cluster.Type != Cluster.Types.DiscoveryType.Eds)
        {
            // A37: a DNS cluster's names travel in load_assignment and the client resolves them.
            dns = DecodeDnsTargets(cluster, out var dnsField, out var dnsError);
            if (dns is null)
            {
                return Fail(name, dnsField!, dnsError!);
            }
        }
        else if (cluster.EdsClusterConfig is null)
        {
            // A27: an EDS cluster's endpoints come over the same ADS stream; anything else (or nothing) is not followed.
            return Fail(name, "eds_cluster_config", "is required for an EDS cluster");
        }
        else if (cluster.EdsClusterConfig.EdsConfig is not { } source || (source.Ads is null && source.Self is null))
        {
            return Fail(name, "eds_cluster_config.eds_config", "must be ads or self");
        }

        // A27: load reporting, when asked for, goes to the same server.
        if (cluster.LrsServer is { } lrs && lrs.Self is null)
        {
            return Fail(name, "lrs_server", "must be self when set");
        }

        var eds = string.IsNullOrEmpty(cluster.EdsClusterConfig?.ServiceName) ? name : cluster.EdsClusterConfig.ServiceName;
        var lb = cluster.LoadBalancingPolicy is { } policies
            ? XdsLoadBalancingPolicies.Decode(policies, out var lbField, out var lbError)
            : DecodeLegacyLbPolicy(cluster, out lbField, out lbError);
        if (lb is null)
        {
            return Fail(name, lbField!, lbError!);
        }

        uint maxRequests = 1024;
        foreach (var threshold in cluster.CircuitBreakers?.Thresholds ?? [])
        {
            if (threshold.Priority == Envoy.Config.Core.V3.RoutingPriority.Default && threshold.MaxRequests is { } max)
            {
                maxRequests = max;
            }
        }

        var outlier = LoadBalancing.OutlierDetection.OutlierDetectionConfig.FromProto(cluster.OutlierDetection, out var outlierError);
        if (outlierError is not null)
        {
            return Fail(name, "outlier_detection", outlierError);
        }

        UpstreamTlsResource? tls = null;
        if (cluster.TransportSocket is { } socket)
        {
            if (socket.TypedConfig is not { } config || !config.Is(UpstreamTlsContext.Descriptor))
            {
                return Fail(name, "transport_socket", "must be an UpstreamTlsContext");
            }

            tls = DecodeUpstreamTls(config.Unpack<UpstreamTlsContext>(), out var tlsField, out var tlsError);
            if (tls is null)
            {
                return Fail(name, tlsField!, tlsError!);
            }
        }

        return XdsDecodeResult.Success(name, new ClusterResource(name, eds, lb.Kind, lb.MinRingSize, lb.MaxRingSize, lb.ChoiceCount, maxRequests)
        {
            Outlier = outlier,
            Tls = tls,
            ShuffleAddressList = lb.ShuffleAddressList,
            LoadBalancingPolicyTypeUrl = lb.TypeUrl,
            DnsTargets = dns,
            IsLogicalDns = cluster.Type == Cluster.Types.DiscoveryType.LogicalDns,
            ReportsLoad = cluster.LrsServer is not null,
            SlowStart = LoadBalancing.SlowStartConfig.FromProto(cluster.LbConfigCase switch
            {
                Cluster.LbConfigOneofCase.RoundRobinLbConfig when lb.Kind == LbPolicyKind.RoundRobin => cluster.RoundRobinLbConfig.SlowStartConfig,
                Cluster.LbConfigOneofCase.LeastRequestLbConfig when lb.Kind == LbPolicyKind.LeastRequest => cluster.LeastRequestLbConfig.SlowStartConfig,
                _ => null,
            }),
        });
    }

    /// <summary>
    /// The names of a LOGICAL_DNS or STRICT_DNS cluster, from its <c>load_assignment</c>. gRFC A37 asks a LOGICAL_DNS
    /// cluster for exactly one locality with exactly one endpoint; STRICT_DNS (which Envoy and Mesh.Client follow)
    /// takes any number, each resolved on its own.
    /// </summary>
    private static EndpointsResource? DecodeDnsTargets(Cluster cluster, out string? field, out string? error)
    {
        field = "load_assignment";
        error = null;
        var logical = cluster.Type == Cluster.Types.DiscoveryType.LogicalDns;
        var kind = logical ? "LOGICAL_DNS" : "STRICT_DNS";
        if (cluster.LoadAssignment is not { } assignment)
        {
            error = $"is required for a {kind} cluster";
            return null;
        }

        if (logical && (assignment.Endpoints.Count != 1 || assignment.Endpoints[0].LbEndpoints.Count != 1))
        {
            field = "load_assignment.endpoints";
            error = "a LOGICAL_DNS cluster needs exactly one locality with exactly one endpoint";
            return null;
        }

        var localities = System.Collections.Immutable.ImmutableArray.CreateBuilder<LocalityResource>();
        var count = 0;
        for (var l = 0; l < assignment.Endpoints.Count; l++)
        {
            var locality = assignment.Endpoints[l];
            var key = locality.Locality ?? new Envoy.Config.Core.V3.Locality();
            var targets = System.Collections.Immutable.ImmutableArray.CreateBuilder<EndpointResource>();
            for (var e = 0; e < locality.LbEndpoints.Count; e++)
            {
                var lb = locality.LbEndpoints[e];
                var target = DecodeEndpoint(lb, $"load_assignment.endpoints[{l}].lb_endpoints[{e}]", allowHostName: true, out field, out error);
                if (target is null)
                {
                    return null;
                }

                if (lb.HealthStatus is Envoy.Config.Core.V3.HealthStatus.Unknown or Envoy.Config.Core.V3.HealthStatus.Healthy)
                {
                    targets.Add(target);
                    count++;
                }
            }

            // A locality without weight takes no traffic here either; a LOGICAL_DNS cluster's one locality always does.
            var weight = logical ? 1u : locality.LoadBalancingWeight ?? 1u;
            if (weight > 0)
            {
                localities.Add(new LocalityResource(key.Region, key.Zone, key.SubZone, weight, locality.Priority, targets.ToImmutable()));
            }
        }

        if (count == 0)
        {
            field = "load_assignment.endpoints";
            error = $"a {kind} cluster needs at least one healthy endpoint to resolve";
            return null;
        }

        field = null;
        return new EndpointsResource(cluster.Name, localities.ToImmutable());
    }

    /// <summary>The <c>lb_policy</c> enum with its per-policy config (used when load_balancing_policy is absent).</summary>
    private static XdsLoadBalancingPolicies.Choice? DecodeLegacyLbPolicy(Cluster cluster, out string? field, out string? error)
    {
        field = null;
        error = null;
        switch (cluster.LbPolicy)
        {
            case Cluster.Types.LbPolicy.RoundRobin:
                return XdsLoadBalancingPolicies.Choice.RoundRobin(null);
            case Cluster.Types.LbPolicy.LeastRequest:
                uint choiceCount = 2;
                if (cluster.LeastRequestLbConfig?.ChoiceCount is { } count)
                {
                    if (count < 2)
                    {
                        field = "least_request_lb_config.choice_count";
                        error = "must be at least 2";
                        return null;
                    }

                    choiceCount = Math.Min(count, MaxChoiceCount);
                }

                return new XdsLoadBalancingPolicies.Choice(LbPolicyKind.LeastRequest, null) { ChoiceCount = choiceCount };
            case Cluster.Types.LbPolicy.RingHash:
                ulong? min = null, max = null;
                if (cluster.RingHashLbConfig is { } ring)
                {
                    min = ring.MinimumRingSize;
                    max = ring.MaximumRingSize;
                    if (ring.HashFunction != Cluster.Types.RingHashLbConfig.Types.HashFunction.XxHash)
                    {
                        field = "ring_hash_lb_config.hash_function";
                        error = "only XX_HASH is supported";
                        return null;
                    }
                }

                return XdsLoadBalancingPolicies.RingHash(min, max, "ring_hash_lb_config", null, out field, out error);
            default:
                field = "lb_policy";
                error = $"{cluster.LbPolicy} is not supported (ROUND_ROBIN, LEAST_REQUEST, RING_HASH are; others through load_balancing_policy)";
                return null;
        }
    }

    /// <summary>Reads a nested message of an extension config whose generated type this build does not carry.</summary>
    internal static bool TryReadFields(ByteString bytes, Func<int, WireFormat.WireType, CodedInputStream, bool> onField, out string? error)
    {
        error = null;
        try
        {
            var input = new CodedInputStream(bytes.ToByteArray());
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (!onField(WireFormat.GetTagFieldNumber(tag), WireFormat.GetTagWireType(tag), input))
                {
                    input.SkipLastField();
                }
            }

            return true;
        }
        catch (InvalidProtocolBufferException ex)
        {
            error = "cannot be parsed: " + ex.Message;
            return false;
        }
    }
}
