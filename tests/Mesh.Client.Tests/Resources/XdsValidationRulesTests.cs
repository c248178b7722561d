using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Resources;
using Mesh.Client.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Client.Tests.Resources;

/// <summary>
/// gRPC's validation rules (gRFC A27, A28, A31, A36, A39, A42, A44, A48, A52, A62, A76), one resource breaking each:
/// the decoder rejects it naming the field (the XdsClient then NACKs naming the resource and keeps the last good one).
/// </summary>
public class XdsValidationRulesTests
{
    private static readonly ConfigSource Ads = new() { Ads = new AggregatedConfigSource() };

    // ---- Cluster ----------------------------------------------------------------------------------------------

    private static Cluster GoodCluster() => new()
    {
        Name = "c",
        Type = Cluster.Types.DiscoveryType.Eds,
        EdsClusterConfig = new Cluster.Types.EdsClusterConfig { EdsConfig = Ads.Clone() },
    };

    private static Any Policy(string typeUrl, params (int Field, IMessage? Message, ulong? Varint)[] fields)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        foreach (var (field, message, varint) in fields)
        {
            if (message is not null)
            {
                output.WriteTag(field, WireFormat.WireType.LengthDelimited);
                output.WriteMessage(message);
            }
            else
            {
                output.WriteTag(field, WireFormat.WireType.Varint);
                output.WriteUInt64(varint!.Value);
            }
        }

        output.Flush();
        return new Any { TypeUrl = typeUrl, Value = ByteString.CopyFrom(buffer.ToArray()) };
    }

    private static LoadBalancingPolicy Policies(params Any[] configs)
    {
        var policies = new LoadBalancingPolicy();
        foreach (var config in configs)
        {
            policies.Policies.Add(new LoadBalancingPolicy.Types.Policy { TypedExtensionConfig = new TypedExtensionConfig { Name = "p", TypedConfig = config } });
        }

        return policies;
    }

    private static readonly Any UnknownPolicy = new() { TypeUrl = "type.googleapis.com/example.MadeUpPolicy" };

    public static TheoryData<string, Action<Cluster>, string> BrokenClusters => new()
    {
        { "A27 EDS without eds_cluster_config", c => c.EdsClusterConfig = null, "eds_cluster_config: is required" },
        { "A27 eds_config missing", c => c.EdsClusterConfig.EdsConfig = null, "eds_cluster_config.eds_config: must be ads or self" },
        { "A27 eds_config neither ads nor self", c => c.EdsClusterConfig.EdsConfig = new ConfigSource(), "eds_cluster_config.eds_config: must be ads or self" },
        { "A27 lrs_server not self", c => c.LrsServer = Ads.Clone(), "lrs_server: must be self" },
        { "A27 not EDS", c => c.Type = Cluster.Types.DiscoveryType.Static, "type:" },
        { "A42 max ring above 8M", c => { c.LbPolicy = Cluster.Types.LbPolicy.RingHash; c.RingHashLbConfig = new() { MaximumRingSize = 8 * 1024 * 1024 + 1 }; }, "maximum_ring_size" },
        { "A42 min ring above 8M", c => { c.LbPolicy = Cluster.Types.LbPolicy.RingHash; c.RingHashLbConfig = new() { MinimumRingSize = 8 * 1024 * 1024 + 1, MaximumRingSize = 8 * 1024 * 1024 }; }, "minimum_ring_size" },
        { "A42 min above max", c => { c.LbPolicy = Cluster.Types.LbPolicy.RingHash; c.RingHashLbConfig = new() { MinimumRingSize = 100, MaximumRingSize = 10 }; }, "minimum_ring_size 100 is above maximum_ring_size 10" },
        { "A42 murmur hash", c => { c.LbPolicy = Cluster.Types.LbPolicy.RingHash; c.RingHashLbConfig = new() { HashFunction = Cluster.Types.RingHashLbConfig.Types.HashFunction.MurmurHash2 }; }, "hash_function" },
        { "A48 choice_count below 2", c => { c.LbPolicy = Cluster.Types.LbPolicy.LeastRequest; c.LeastRequestLbConfig = new() { ChoiceCount = 1 }; }, "choice_count: must be at least 2" },
        { "unsupported lb_policy", c => c.LbPolicy = Cluster.Types.LbPolicy.Random, "lb_policy" },
        { "A52 no supported policy", c => c.LoadBalancingPolicy = Policies(UnknownPolicy), "load_balancing_policy: no supported policy among type.googleapis.com/example.MadeUpPolicy" },
        { "A52 empty list", c => c.LoadBalancingPolicy = Policies(), "load_balancing_policy: lists no policy" },
        { "A52 ring_hash min above max", c => c.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.RingHashType, (2, new UInt64Value { Value = 20 }, null), (3, new UInt64Value { Value = 10 }, null))), "policies[0].typed_extension_config" },
        { "A52 ring_hash max above 8M", c => c.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.RingHashType, (3, new UInt64Value { Value = 9_000_000 }, null))), "maximum_ring_size" },
        { "A52 ring_hash murmur", c => c.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.RingHashType, (1, null, 2UL))), "hash_function" },
        { "A52 least_request choice 1", c => c.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.LeastRequestType, (1, new UInt32Value { Value = 1 }, null))), "choice_count" },
        { "A52 wrr_locality without child", c => c.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.WrrLocalityType)), "endpoint_picking_policy: is required" },
        { "A52 wrr_locality child unsupported", c => c.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.WrrLocalityType, (1, Policies(UnknownPolicy), null))), "no supported policy" },
        { "A52 config not parseable", c => c.LoadBalancingPolicy = Policies(new Any { TypeUrl = XdsLoadBalancingPolicies.RingHashType, Value = ByteString.CopyFrom(0x12, 0x05, 0x01) }), "cannot be parsed" },
    };

    private static Cluster DnsCluster(Cluster.Types.DiscoveryType type, params (string Host, uint Port)[] targets)
    {
        var locality = new Envoy.Config.Endpoint.V3.LocalityLbEndpoints { Locality = new Locality() };
        foreach (var (host, port) in targets)
        {
            locality.LbEndpoints.Add(new Envoy.Config.Endpoint.V3.LbEndpoint
            {
                Endpoint = new Envoy.Config.Endpoint.V3.Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = host, PortValue = port } } },
            });
        }

        return new Cluster { Name = "c", Type = type, LoadAssignment = new Envoy.Config.Endpoint.V3.ClusterLoadAssignment { ClusterName = "c", Endpoints = { locality } } };
    }

    public static TheoryData<string, Cluster, string> BrokenDnsClusters => new()
    {
        { "A37 LOGICAL_DNS without load_assignment", new Cluster { Name = "c", Type = Cluster.Types.DiscoveryType.LogicalDns }, "load_assignment: is required for a LOGICAL_DNS cluster" },
        { "A37 LOGICAL_DNS with two endpoints", DnsCluster(Cluster.Types.DiscoveryType.LogicalDns, ("a.example.com", 443), ("b.example.com", 443)), "load_assignment.endpoints: a LOGICAL_DNS cluster needs exactly one locality with exactly one endpoint" },
        { "A37 LOGICAL_DNS with no endpoint", DnsCluster(Cluster.Types.DiscoveryType.LogicalDns), "load_assignment.endpoints: a LOGICAL_DNS cluster needs exactly one" },
        { "A37 LOGICAL_DNS port 0", DnsCluster(Cluster.Types.DiscoveryType.LogicalDns, ("api.example.com", 0)), "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value" },
        { "A37 LOGICAL_DNS name not a host", DnsCluster(Cluster.Types.DiscoveryType.LogicalDns, ("bad name/x", 443)), "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: 'bad name/x' is neither a DNS name nor an IP address" },
        { "STRICT_DNS without load_assignment", new Cluster { Name = "c", Type = Cluster.Types.DiscoveryType.StrictDns }, "load_assignment: is required for a STRICT_DNS cluster" },
        { "STRICT_DNS with no endpoint", DnsCluster(Cluster.Types.DiscoveryType.StrictDns), "load_assignment.endpoints: a STRICT_DNS cluster needs at least one healthy endpoint" },
    };

    [Theory]
    [MemberData(nameof(BrokenDnsClusters))]
    public void DecodeCluster_BrokenDnsCluster_IsRejectedNamingTheField(string rule, Cluster cluster, string expected)
    {
        var result = XdsResourceTypes.DecodeCluster(cluster);

        Assert.False(result.IsSuccess, rule);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeCluster_LogicalDnsWithLoadAssignment_IsAcceptedWithItsName()
    {
        var result = XdsResourceTypes.DecodeCluster(DnsCluster(Cluster.Types.DiscoveryType.LogicalDns, ("api.example.com", 443)));

        Assert.True(result.IsSuccess, result.Error);
        var cluster = Assert.IsType<ClusterResource>(result.Resource);
        Assert.True(cluster.IsLogicalDns);
        var target = Assert.Single(Assert.Single(cluster.DnsTargets!.Localities).Endpoints);
        Assert.Equal(("api.example.com", 443), (target.Host, target.Port));
    }

    [Fact]
    public void DecodeCluster_StrictDnsWithTwoNames_IsAcceptedWithBoth()
    {
        var result = XdsResourceTypes.DecodeCluster(DnsCluster(Cluster.Types.DiscoveryType.StrictDns, ("a.example.com", 443), ("10.0.0.1", 8443)));

        Assert.True(result.IsSuccess, result.Error);
        var cluster = Assert.IsType<ClusterResource>(result.Resource);
        Assert.False(cluster.IsLogicalDns);
        Assert.Equal(2, Assert.Single(cluster.DnsTargets!.Localities).Endpoints.Length);
    }

    [Theory]
    [MemberData(nameof(BrokenClusters))]
    public void DecodeCluster_BreakingARule_IsRejectedNamingTheField(string rule, Action<Cluster> breakIt, string expected)
    {
        var cluster = GoodCluster();
        breakIt(cluster);

        var result = XdsResourceTypes.DecodeCluster(cluster);

        Assert.False(result.IsSuccess, rule);
        Assert.Equal("c", result.Name);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeCluster_GoodEdsCluster_IsAccepted()
    {
        var self = GoodCluster();
        self.EdsClusterConfig.EdsConfig = new ConfigSource { Self = new SelfConfigSource() };
        self.LrsServer = new ConfigSource { Self = new SelfConfigSource() };

        Assert.True(XdsResourceTypes.DecodeCluster(GoodCluster()).IsSuccess);
        Assert.True(XdsResourceTypes.DecodeCluster(self).IsSuccess);
    }

    [Fact]
    public void DecodeCluster_LeastRequestChoiceCountAbove10_IsCappedAt10()
    {
        var cluster = GoodCluster();
        cluster.LbPolicy = Cluster.Types.LbPolicy.LeastRequest;
        cluster.LeastRequestLbConfig = new() { ChoiceCount = 50 };

        Assert.Equal(10u, Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(cluster).Resource).ChoiceCount);
    }

    [Fact]
    public void DecodeCluster_RingHashDefaults_Are1024And8M()
    {
        var cluster = GoodCluster();
        cluster.LbPolicy = Cluster.Types.LbPolicy.RingHash;

        var decoded = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(cluster).Resource);

        Assert.Equal((1024UL, 8UL * 1024 * 1024), (decoded.MinRingSize, decoded.MaxRingSize));
    }

    [Fact]
    public void DecodeCluster_LoadBalancingPolicy_SkipsUnknownInOrderAndWinsOverLbPolicy()
    {
        var cluster = GoodCluster();
        cluster.LbPolicy = Cluster.Types.LbPolicy.LeastRequest;
        cluster.LoadBalancingPolicy = Policies(
            UnknownPolicy,
            Policy(XdsLoadBalancingPolicies.RingHashType, (2, new UInt64Value { Value = 10 }, null), (3, new UInt64Value { Value = 100 }, null)),
            Policy(XdsLoadBalancingPolicies.RoundRobinType));

        var decoded = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(cluster).Resource);

        Assert.Equal(LbPolicyKind.RingHash, decoded.LbPolicy);
        Assert.Equal((10UL, 100UL), (decoded.MinRingSize, decoded.MaxRingSize));
        Assert.Equal(XdsLoadBalancingPolicies.RingHashType, decoded.LoadBalancingPolicyTypeUrl);
    }

    [Fact]
    public void DecodeCluster_WrrLocalityOverLeastRequest_And_PickFirstShuffle_AreRead()
    {
        var wrr = GoodCluster();
        wrr.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.WrrLocalityType,
            (1, Policies(UnknownPolicy, Policy(XdsLoadBalancingPolicies.LeastRequestType, (1, new UInt32Value { Value = 3 }, null))), null)));
        var pickFirst = GoodCluster();
        pickFirst.LoadBalancingPolicy = Policies(Policy(XdsLoadBalancingPolicies.PickFirstType, (1, null, 1UL)));

        var wrrDecoded = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(wrr).Resource);
        var pickFirstDecoded = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(pickFirst).Resource);

        Assert.Equal((LbPolicyKind.LeastRequest, 3u), (wrrDecoded.LbPolicy, wrrDecoded.ChoiceCount));
        Assert.Equal((LbPolicyKind.PickFirst, true), (pickFirstDecoded.LbPolicy, pickFirstDecoded.ShuffleAddressList));
    }

    [Fact]
    public void DecodeCluster_WrrLocalityNestedTooDeep_IsRejected()
    {
        var policies = Policies(Policy(XdsLoadBalancingPolicies.RoundRobinType));
        for (var i = 0; i < XdsLoadBalancingPolicies.MaxDepth + 1; i++)
        {
            policies = Policies(Policy(XdsLoadBalancingPolicies.WrrLocalityType, (1, policies, null)));
        }

        var cluster = GoodCluster();
        cluster.LoadBalancingPolicy = policies;

        Assert.Contains("nest deeper than 16", XdsResourceTypes.DecodeCluster(cluster).Error, StringComparison.Ordinal);
    }

    // ---- ClusterLoadAssignment --------------------------------------------------------------------------------

    private static LbEndpoint Endpoint(string address, uint port, uint? weight = null)
    {
        var endpoint = new LbEndpoint { Endpoint = new Envoy.Config.Endpoint.V3.Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = address, PortValue = port } } } };
        if (weight is { } w)
        {
            endpoint.LoadBalancingWeight = w;
        }

        return endpoint;
    }

    private static LocalityLbEndpoints Locality(string zone, uint weight, uint priority, params LbEndpoint[] endpoints)
    {
        var locality = new LocalityLbEndpoints { Locality = new Envoy.Config.Core.V3.Locality { Zone = zone }, LoadBalancingWeight = weight, Priority = priority };
        locality.LbEndpoints.AddRange(endpoints);
        return locality;
    }

    private static ClusterLoadAssignment Assignment(params LocalityLbEndpoints[] localities)
    {
        var assignment = new ClusterLoadAssignment { ClusterName = "c" };
        assignment.Endpoints.AddRange(localities);
        return assignment;
    }

    public static TheoryData<string, ClusterLoadAssignment, string> BrokenAssignments => new()
    {
        { "port 0", Assignment(Locality("a", 1, 0, Endpoint("10.0.0.1", 0))), "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: 0 is not a port" },
        { "port 70000", Assignment(Locality("a", 1, 0, Endpoint("10.0.0.1", 70000))), "port_value: 70000 is not a port" },
        { "host name", Assignment(Locality("a", 1, 0, Endpoint("echo.example", 80))), "socket_address.address: 'echo.example' is not an IP address" },
        { "short IPv4", Assignment(Locality("a", 1, 0, Endpoint("10.1", 80))), "is not an IP address" },
        { "no socket address", Assignment(Locality("a", 1, 0, new LbEndpoint { Endpoint = new Envoy.Config.Endpoint.V3.Endpoint() })), "a socket address with port_value is required" },
        { "endpoint weight 0", Assignment(Locality("a", 1, 0, Endpoint("10.0.0.1", 80, weight: 0))), "lb_endpoints[0].load_balancing_weight: must be at least 1" },
        { "duplicate endpoint", Assignment(Locality("a", 1, 0, Endpoint("10.0.0.1", 80)), Locality("b", 1, 0, Endpoint("10.0.0.1", 80))), "endpoints[1].lb_endpoints[0].endpoint.address: 10.0.0.1:80 appears more than once" },
        { "duplicate locality", Assignment(Locality("a", 1, 0, Endpoint("10.0.0.1", 80)), Locality("a", 1, 0, Endpoint("10.0.0.2", 80))), "endpoints[1].locality: '/a/' appears twice at priority 0" },
        { "missing locality", Assignment(new LocalityLbEndpoints { LoadBalancingWeight = 1 }), "endpoints[0].locality: is required" },
        { "priority gap", Assignment(Locality("a", 1, 0, Endpoint("10.0.0.1", 80)), Locality("b", 1, 2, Endpoint("10.0.0.2", 80))), "priorities must be contiguous from 0; 1 is missing" },
    };

    [Theory]
    [MemberData(nameof(BrokenAssignments))]
    public void DecodeEndpoints_BreakingARule_IsRejectedNamingTheField(string rule, ClusterLoadAssignment assignment, string expected)
    {
        var result = XdsResourceTypes.DecodeEndpoints(assignment);

        Assert.False(result.IsSuccess, rule);
        Assert.Equal("c", result.Name);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeEndpoints_LocalityWeight0_IsIgnoredAndTheOthersServe()
    {
        var result = XdsResourceTypes.DecodeEndpoints(Assignment(Locality("zero", 0, 0, Endpoint("10.0.0.1", 80)), Locality("b", 5, 0, Endpoint("10.0.0.2", 80))));

        var decoded = Assert.IsType<EndpointsResource>(result.Resource);
        var locality = Assert.Single(decoded.Localities);
        Assert.Equal(("b", 5u), (locality.Zone, locality.Weight));
        Assert.Equal("10.0.0.2", Assert.Single(locality.Endpoints).Host);
    }

    [Fact]
    public void DecodeEndpoints_Ipv6AndHashKey_AreRead()
    {
        var endpoint = Endpoint("::1", 8080, weight: 3);
        var metadata = new Struct();
        metadata.Fields["hash_key"] = Value.ForString("shard-7");
        endpoint.Metadata = new Metadata { FilterMetadata = { [XdsResourceTypes.LbMetadataFilter] = metadata } };
        var unhealthy = Endpoint("::2", 8080);
        unhealthy.HealthStatus = HealthStatus.Unhealthy;

        var decoded = Assert.IsType<EndpointsResource>(XdsResourceTypes.DecodeEndpoints(Assignment(Locality("a", 1, 0, endpoint, unhealthy))).Resource);

        var only = Assert.Single(decoded.Localities[0].Endpoints);
        Assert.Equal(("::1", 8080, 3u, "shard-7"), (only.Host, only.Port, only.Weight, only.HashKey));
    }

    // ---- Listener ---------------------------------------------------------------------------------------------

    private static Hcm.HttpFilter HttpFilter(string name, IMessage config, bool optional = false) =>
        new() { Name = name, TypedConfig = Any.Pack(config), IsOptional = optional };

    private static Hcm.HttpFilter Router => HttpFilter("router", new Envoy.Extensions.Filters.Http.Router.V3.Router());

    private static Hcm.HttpFilter Fault => HttpFilter("fault", new Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault());

    private static Hcm.HttpFilter Rbac(bool optional = false) => HttpFilter("rbac", new Envoy.Extensions.Filters.Http.Rbac.V3.RBAC(), optional);

    private static Listener ClientListener(params Hcm.HttpFilter[] filters)
    {
        var hcm = new Hcm.HttpConnectionManager { Rds = new Hcm.Rds { ConfigSource = Ads.Clone(), RouteConfigName = "r" } };
        hcm.HttpFilters.AddRange(filters);
        return new Listener { Name = "l", ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } };
    }

    private static FilterChain Chain(string transport, Action<Hcm.HttpConnectionManager>? change = null, params Hcm.HttpFilter[] filters)
    {
        var hcm = new Hcm.HttpConnectionManager
        {
            RouteConfig = new RouteConfiguration
            {
                Name = "inbound",
                VirtualHosts = { new VirtualHost { Domains = { "*" }, Routes = { new Route { Match = new RouteMatch { Prefix = "/" }, NonForwardingAction = new NonForwardingAction() } } } },
            },
        };
        hcm.HttpFilters.AddRange(filters.Length == 0 ? [Router] : filters);
        change?.Invoke(hcm);
        var chain = new FilterChain { Filters = { new Filter { Name = "hcm", TypedConfig = Any.Pack(hcm) } } };
        if (transport.Length > 0)
        {
            chain.FilterChainMatch = new FilterChainMatch { TransportProtocol = transport };
        }

        return chain;
    }

    private static Listener ServerListener(params FilterChain[] chains)
    {
        var listener = new Listener { Name = "l", Address = new Address { SocketAddress = new SocketAddress { Address = "0.0.0.0", PortValue = 8080 } } };
        listener.FilterChains.AddRange(chains);
        return listener;
    }

    public static TheoryData<string, Listener, string> BrokenListeners => new()
    {
        { "A39 duplicate filter names", ClientListener(Fault, HttpFilter("fault", new Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault()), Router), "http_filters[1]: filter name 'fault' appears more than once" },
        { "A39 filter without name", ClientListener(HttpFilter("", new Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault()), Router), "http_filters[0]: name is required" },
        { "A39 filter without typed_config", ClientListener(new Hcm.HttpFilter { Name = "x" }, Router), "http_filters[0]: filter 'x' has no typed_config" },
        { "A39 unknown required filter", ClientListener(HttpFilter("mystery", new Duration()), Router), "http_filters[0]: filter 'mystery' has unsupported config type" },
        { "A39 server-only filter required on a client", ClientListener(Rbac(), Router), "http_filters[0]: filter 'rbac'" },
        { "A39 no router", ClientListener(Fault), "the router filter must be present and last" },
        { "A39 router not last", ClientListener(Router, Fault), "the router filter must be" },
        { "A39 filter config unparseable", ClientListener(new Hcm.HttpFilter { Name = "fault", TypedConfig = new Any { TypeUrl = Mesh.Xds.XdsTypeUrls.HttpFault, Value = ByteString.CopyFrom(0x0A, 0x09, 0x01) } }, Router), "config cannot be parsed" },
        { "A27 rds not ads", new Listener { Name = "l", ApiListener = new ApiListener { ApiListener_ = Any.Pack(new Hcm.HttpConnectionManager { Rds = new Hcm.Rds { ConfigSource = new ConfigSource(), RouteConfigName = "r" }, HttpFilters = { Router } }) } }, "rds.config_source: must be ads or self" },
        { "A27 rds without name", new Listener { Name = "l", ApiListener = new ApiListener { ApiListener_ = Any.Pack(new Hcm.HttpConnectionManager { Rds = new Hcm.Rds { ConfigSource = Ads.Clone() }, HttpFilters = { Router } }) } }, "rds.route_config_name: is required" },
        { "A27 no route specifier", new Listener { Name = "l", ApiListener = new ApiListener { ApiListener_ = Any.Pack(new Hcm.HttpConnectionManager { HttpFilters = { Router } }) } }, "route_specifier" },
        { "A36 overlapping chains", ServerListener(Chain("raw_buffer"), Chain("raw_buffer")), "filter_chains[1].filter_chain_match: overlaps an earlier chain" },
        { "A36 client-only filter required on a server", ServerListener(Chain("", null, Fault, Router)), "filter_chains[0].filters[0].http_filters[0]: filter 'fault'" },
        { "A36 server HCM without routes", ServerListener(Chain("", h => h.RouteConfig = null)), "filter_chains[0].filters[0].route_specifier" },
        { "A36 server HCM rds not ads", ServerListener(Chain("", h => h.Rds = new Hcm.Rds { ConfigSource = new ConfigSource(), RouteConfigName = "r" })), "filter_chains[0].filters[0].rds" },
    };

    [Theory]
    [MemberData(nameof(BrokenListeners))]
    public void DecodeListener_BreakingARule_IsRejectedNamingTheField(string rule, Listener listener, string expected)
    {
        var result = XdsResourceTypes.DecodeListener(listener);

        Assert.False(result.IsSuccess, rule);
        Assert.Equal("l", result.Name);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeListener_OptionalFiltersOfTheOtherSide_AreSkipped()
    {
        var client = XdsResourceTypes.DecodeListener(ClientListener(Rbac(optional: true), Fault, Router));
        var server = XdsResourceTypes.DecodeListener(ServerListener(Chain("", null, HttpFilter("fault", new Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault(), optional: true), Rbac(), Router)));

        Assert.Equal(["fault", "router"], Assert.IsType<ListenerResource>(client.Resource).HttpFilters.Select(f => f.Name));
        Assert.Equal(["rbac", "router"], Assert.IsType<ServerListenerResource>(server.Resource).FilterChains[0].HttpFilters.Select(f => f.Name));
    }

    // ---- RouteConfiguration -----------------------------------------------------------------------------------

    private static RouteConfiguration RouteConfig(Action<VirtualHost, Route> change)
    {
        var route = new Route { Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction { Cluster = "c" } };
        var host = new VirtualHost { Name = "vh", Domains = { "*" }, Routes = { route } };
        change(host, route);
        return new RouteConfiguration { Name = "r", VirtualHosts = { host } };
    }

    private static Any Wrapped(Any config, bool optional) => Any.Pack(new FilterConfig { Config = config, IsOptional = optional });

    private static readonly Any UnknownOverride = new() { TypeUrl = "type.googleapis.com/example.MadeUpFilter" };

    public static TheoryData<string, RouteConfiguration, string> BrokenRouteConfigs => new()
    {
        { "A44 num_retries 0", RouteConfig((_, r) => r.Route_.RetryPolicy = new RetryPolicy { RetryOn = "unavailable", NumRetries = 0 }), "routes[0].route.retry_policy.num_retries: must be at least 1" },
        { "A44 back-off without base", RouteConfig((_, r) => r.Route_.RetryPolicy = new RetryPolicy { RetryOn = "unavailable", RetryBackOff = new RetryPolicy.Types.RetryBackOff() }), "retry_policy.retry_back_off.base_interval" },
        { "A44 base_interval 0", RouteConfig((_, r) => r.Route_.RetryPolicy = new RetryPolicy { RetryOn = "unavailable", RetryBackOff = new() { BaseInterval = new Duration() } }), "retry_policy.retry_back_off.base_interval" },
        { "A44 max_interval 0", RouteConfig((_, r) => r.Route_.RetryPolicy = new RetryPolicy { RetryOn = "unavailable", RetryBackOff = new() { BaseInterval = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(10)), MaxInterval = new Duration() } }), "retry_policy.retry_back_off.max_interval: must be greater than zero" },
        { "A44 max below base", RouteConfig((_, r) => r.Route_.RetryPolicy = new RetryPolicy { RetryOn = "unavailable", RetryBackOff = new() { BaseInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)), MaxInterval = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(10)) } }), "max_interval: must not be below base_interval" },
        { "A44 virtual host retry num_retries 0", RouteConfig((h, _) => h.RetryPolicy = new RetryPolicy { RetryOn = "unavailable", NumRetries = 0 }), "virtual_hosts[0].retry_policy.num_retries" },
        { "A31 negative max_stream_duration", RouteConfig((_, r) => r.Route_.MaxStreamDuration = new RouteAction.Types.MaxStreamDuration { MaxStreamDuration_ = new Duration { Seconds = -1 } }), "max_stream_duration.max_stream_duration: is not a valid non-negative duration" },
        { "A31 negative grpc_timeout_header_max", RouteConfig((_, r) => r.Route_.MaxStreamDuration = new RouteAction.Types.MaxStreamDuration { GrpcTimeoutHeaderMax = new Duration { Nanos = -5 } }), "grpc_timeout_header_max" },
        { "A28 weights sum to 0", RouteConfig((_, r) => r.Route_.WeightedClusters = new WeightedCluster { Clusters = { new WeightedCluster.Types.ClusterWeight { Name = "a", Weight = 0 } } }), "weighted_clusters: the weights sum to 0" },
        { "A28 weights above uint32", RouteConfig((_, r) => r.Route_.WeightedClusters = new WeightedCluster { Clusters = { new WeightedCluster.Types.ClusterWeight { Name = "a", Weight = uint.MaxValue }, new WeightedCluster.Types.ClusterWeight { Name = "b", Weight = 2 } } }), "weighted_clusters: the weights sum to" },
        { "A28 no match", RouteConfig((_, r) => r.Match = null), "routes[0].match: is required" },
        { "A28 no path specifier", RouteConfig((_, r) => r.Match = new RouteMatch()), "routes[0].match: has no path specifier" },
        { "A28 bad regex", RouteConfig((_, r) => r.Match = new RouteMatch { SafeRegex = new Envoy.Type.Matcher.V3.RegexMatcher { Regex = "(" } }), "routes[0].match: invalid regex" },
        { "A28 header matcher without specifier", RouteConfig((_, r) => r.Match.Headers.Add(new HeaderMatcher { Name = "x" })), "headers[0]: has no match specifier" },
        { "A28 range start after end", RouteConfig((_, r) => r.Match.Headers.Add(new HeaderMatcher { Name = "x", RangeMatch = new Envoy.Type.V3.Int64Range { Start = 5, End = 1 } })), "range_match start is after end" },
        { "A39 unknown route override", RouteConfig((_, r) => r.TypedPerFilterConfig["x"] = UnknownOverride), "routes[0].typed_per_filter_config['x']: unsupported override type" },
        { "A39 unknown virtual host override", RouteConfig((h, _) => h.TypedPerFilterConfig["x"] = Wrapped(UnknownOverride, optional: false)), "virtual_hosts[0].typed_per_filter_config['x']: unsupported override type" },
        { "A39 unknown weighted cluster override", RouteConfig((_, r) => r.Route_.WeightedClusters = new WeightedCluster { Clusters = { new WeightedCluster.Types.ClusterWeight { Name = "a", Weight = 1, TypedPerFilterConfig = { ["x"] = UnknownOverride } } } }), "route.weighted_clusters.clusters[0].typed_per_filter_config['x']" },
        { "A39 router override", RouteConfig((_, r) => r.TypedPerFilterConfig["router"] = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router())), "the router filter takes no per-route override" },
        { "A39 override unparseable", RouteConfig((_, r) => r.TypedPerFilterConfig["fault"] = new Any { TypeUrl = Mesh.Xds.XdsTypeUrls.HttpFault, Value = ByteString.CopyFrom(0x0A, 0x09, 0x01) }), "config cannot be parsed" },
        { "empty cluster name", RouteConfig((_, r) => r.Route_.Cluster = string.Empty), "route.cluster: is empty" },
    };

    [Theory]
    [MemberData(nameof(BrokenRouteConfigs))]
    public void DecodeRouteConfig_BreakingARule_IsRejectedNamingTheField(string rule, RouteConfiguration config, string expected)
    {
        var result = XdsResourceTypes.DecodeRouteConfig(config);

        Assert.False(result.IsSuccess, rule);
        Assert.Equal("r", result.Name);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeRouteConfig_OptionalUnknownOverride_IsSkippedAndKnownOnesUnwrapped()
    {
        var fault = Any.Pack(new Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault());
        var config = RouteConfig((_, r) =>
        {
            r.TypedPerFilterConfig["x"] = Wrapped(UnknownOverride, optional: true);
            r.TypedPerFilterConfig["fault"] = Wrapped(fault, optional: false);
        });

        var route = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0].Routes[0];

        Assert.Equal(["fault"], route.FilterOverrides.Keys);
        Assert.Equal(fault, route.FilterOverrides["fault"]);
    }

    [Fact]
    public void DecodeRouteConfig_IgnoredRoutes_QueryParametersAndClusterHeader_AreSkipped()
    {
        var config = RouteConfig((h, r) =>
        {
            r.Match.QueryParameters.Add(new QueryParameterMatcher { Name = "q", PresentMatch = true });
            h.Routes.Add(new Route { Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction { ClusterHeader = "x-cluster" } });
            h.Routes.Add(new Route { Name = "kept", Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction { Cluster = "c" } });
        });

        var host = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0];

        Assert.Equal(["kept"], host.Routes.Select(r => r.Name));
    }

    [Fact]
    public void DecodeRouteConfig_VirtualHostRetry_AppliesToRoutesWithoutTheirOwn()
    {
        var config = RouteConfig((h, r) =>
        {
            h.RetryPolicy = new RetryPolicy { RetryOn = "unavailable", NumRetries = 2 };
            h.Routes.Add(new Route { Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction { Cluster = "c", RetryPolicy = new RetryPolicy { RetryOn = "cancelled", NumRetries = 1 } } });
        });

        var routes = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0].Routes;

        Assert.Equal((3, Grpc.Core.StatusCode.Unavailable), (routes[0].Action!.Retry!.MaxAttempts, Assert.Single(routes[0].Action!.Retry!.RetryOn)));
        Assert.Equal((2, Grpc.Core.StatusCode.Cancelled), (routes[1].Action!.Retry!.MaxAttempts, Assert.Single(routes[1].Action!.Retry!.RetryOn)));
    }

    [Fact]
    public void DecodeRouteConfig_MaxStreamDuration_GrpcTimeoutHeaderMaxWinsEvenWhenZero()
    {
        static TimeSpan? Decode(Duration? max, Duration? headerMax) =>
            Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(RouteConfig((_, r) =>
                r.Route_.MaxStreamDuration = new RouteAction.Types.MaxStreamDuration { MaxStreamDuration_ = max, GrpcTimeoutHeaderMax = headerMax })).Resource)
                .VirtualHosts[0].Routes[0].Action!.MaxStreamDuration;

        var twoSeconds = Duration.FromTimeSpan(TimeSpan.FromSeconds(2));
        var oneSecond = Duration.FromTimeSpan(TimeSpan.FromSeconds(1));

        Assert.Equal(TimeSpan.FromSeconds(2), Decode(twoSeconds, null));
        Assert.Equal(TimeSpan.FromSeconds(1), Decode(twoSeconds, oneSecond));
        Assert.Null(Decode(twoSeconds, new Duration()));
    }

    [Fact]
    public void DecodeRouteConfig_HashPolicies_HeaderAndChannelIdInOrderWithTerminal()
    {
        var config = RouteConfig((_, r) =>
        {
            r.Route_.HashPolicy.Add(new RouteAction.Types.HashPolicy { Header = new() { HeaderName = "X-User" } });
            r.Route_.HashPolicy.Add(new RouteAction.Types.HashPolicy { FilterState = new() { Key = "something.else" } });
            r.Route_.HashPolicy.Add(new RouteAction.Types.HashPolicy { FilterState = new() { Key = XdsResourceTypes.ChannelIdFilterStateKey }, Terminal = true });
        });

        var action = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0].Routes[0].Action!;

        Assert.Equal(
            new[] { new HashPolicyResource(HashPolicyKind.Header, "x-user", false), new HashPolicyResource(HashPolicyKind.ChannelId, string.Empty, true) },
            action.HashPolicies.ToArray());
        Assert.Equal("x-user", Assert.Single(action.HashHeaders));
    }

    [Fact]
    public void DecodeRouteConfig_CookieAndQueryParameterHashPolicies_AreKeptInOrder()
    {
        var config = RouteConfig((_, r) =>
        {
            r.Route_.HashPolicy.Add(new RouteAction.Types.HashPolicy { Cookie = new() { Name = "session" } });
            r.Route_.HashPolicy.Add(new RouteAction.Types.HashPolicy { QueryParameter = new() { Name = "user" }, Terminal = true });
        });

        var action = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0].Routes[0].Action!;

        Assert.Equal(
            new[] { new HashPolicyResource(HashPolicyKind.Cookie, "session", false), new HashPolicyResource(HashPolicyKind.QueryParameter, "user", true) },
            action.HashPolicies.ToArray());
    }

    public static TheoryData<string, RouteConfiguration, string> BrokenRouteActions => new()
    {
        { "direct_response status 100", RouteConfig((_, r) => r.DirectResponse = new DirectResponseAction { Status = 100 }), "routes[0].direct_response.status: 100 is not an HTTP status in 200-599" },
        { "direct_response body from a file", RouteConfig((_, r) => r.DirectResponse = new DirectResponseAction { Status = 200, Body = new DataSource { Filename = "/etc/passwd" } }), "routes[0].direct_response.body: only inline_string and inline_bytes" },
        { "regex_rewrite with a lookbehind", RouteConfig((_, r) => r.Route_.RegexRewrite = new Envoy.Type.Matcher.V3.RegexMatchAndSubstitute { Pattern = new() { Regex = "(?<=a)b" }, Substitution = "c" }), "routes[0].route.regex_rewrite.pattern.regex" },
        { "request header :path", RouteConfig((_, r) => r.RequestHeadersToAdd.Add(new HeaderValueOption { Header = new HeaderValue { Key = ":path", Value = "/x" } })), "routes[0].request_headers_to_add[0].header.key" },
        { "mirror without cluster", RouteConfig((_, r) => r.Route_.RequestMirrorPolicies.Add(new RouteAction.Types.RequestMirrorPolicy())), "routes[0].route.request_mirror_policies[0].cluster: is required" },
    };

    [Theory]
    [MemberData(nameof(BrokenRouteActions))]
    public void DecodeRouteConfig_BrokenRouteAction_IsRejectedNamingTheField(string rule, RouteConfiguration config, string expected)
    {
        var result = XdsResourceTypes.DecodeRouteConfig(config);

        Assert.False(result.IsSuccess, rule);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeRouteConfig_RedirectRoute_IsKeptWithItsAnswer()
    {
        var config = RouteConfig((_, r) => r.Redirect = new RedirectAction { HostRedirect = "moved.example", PathRedirect = "/new", ResponseCode = RedirectAction.Types.RedirectResponseCode.Found });

        var route = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0].Routes[0];

        Assert.Null(route.Action);
        Assert.Equal(new Mesh.Client.Routing.RouteActions.RedirectAnswer(302, null, "moved.example", 0, "/new", null, false), route.HttpActions!.Redirect);
    }

    // ---- Through the XdsClient: NACK naming resource and field, last good kept -------------------------------

    [Fact]
    public async Task XdsClient_EdsClusterWithoutEdsClusterConfig_IsNackedNamingItAndTheLastGoodStays()
    {
        await using var h = await Xds.XdsClientHarness.StartAsync();
        var (watcher, _) = h.Watch(XdsResourceTypes.ClusterType, "c");
        var stream = await h.Server.NextStreamAsync();
        await stream.NextRequestAsync();
        await stream.ReplyToAsync(await stream.SendAsync(Mesh.Xds.XdsTypeUrls.Cluster, "v1", GoodCluster()));
        var good = await watcher.NextChangedAsync<ClusterResource>();
        var bad = GoodCluster();
        bad.EdsClusterConfig = null;

        var nack = await stream.ReplyToAsync(await stream.SendAsync(Mesh.Xds.XdsTypeUrls.Cluster, "v2", bad));

        Assert.Equal("v1", nack.VersionInfo);
        Assert.Contains("'c': eds_cluster_config: is required", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Contains("eds_cluster_config", (await watcher.NextAsync(Xds.WatchEventKind.AmbientError)).Message, StringComparison.Ordinal);
        await h.Client.FlushCallbacksAsync();
        Assert.Null(watcher.TryTake());
        var status = h.Client.GetStatus().Find(Mesh.Xds.XdsTypeUrls.Cluster, "c")!;
        Assert.Equal((Envoy.Admin.V3.ClientResourceStatus.Nacked, "v1"), (status.Status, status.Version));
        Assert.Equal(GoodCluster(), status.LastValid!.Unpack<Cluster>());
        Assert.Equal("c", good.Name);
    }

    [Fact]
    public async Task XdsClient_DuplicateNamesInOneResponse_AreNackedAndTheLastGoodStays()
    {
        await using var h = await Xds.XdsClientHarness.StartAsync();
        var (watcher, _) = h.Watch(XdsResourceTypes.ClusterType, "c");
        var stream = await h.Server.NextStreamAsync();
        await stream.NextRequestAsync();
        await stream.ReplyToAsync(await stream.SendAsync(Mesh.Xds.XdsTypeUrls.Cluster, "v1", GoodCluster()));
        await watcher.NextChangedAsync<ClusterResource>();
        var other = GoodCluster();
        other.LbPolicy = Cluster.Types.LbPolicy.RingHash;

        var nack = await stream.ReplyToAsync(await stream.SendAsync(Mesh.Xds.XdsTypeUrls.Cluster, "v2", GoodCluster(), other));

        Assert.Equal("v1", nack.VersionInfo);
        Assert.Contains("'c': the resource appears 2 times in the response", nack.ErrorDetail.Message, StringComparison.Ordinal);
        Assert.Equal(GoodCluster(), h.Client.GetStatus().Find(Mesh.Xds.XdsTypeUrls.Cluster, "c")!.LastValid!.Unpack<Cluster>());
    }
}
