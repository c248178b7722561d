using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Translation;
using Mesh.Testing.Sidecar;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Tests.Sidecar;

/// <summary>
/// The Envoy configuration of every Bookinfo workload under every sample scenario decodes strictly against the
/// official Envoy protos, meets their protoc-gen-validate rules, and keeps Istio's structural rules; and each rule
/// catches a planted defect.
/// </summary>
public class SidecarValidationTests
{
    public static TheoryData<string, int> WorkloadsAndScenarios()
    {
        var data = new TheoryData<string, int>();
        foreach (var scenario in SidecarBookinfo.Scenarios)
        {
            for (var i = 0; i < SidecarBookinfo.Workloads.Length; i++)
            {
                data.Add(scenario, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WorkloadsAndScenarios))]
    public void Validate_BookinfoWorkload_NoViolations(string scenario, int workload)
    {
        var (name, ip, labels) = SidecarBookinfo.Workloads[workload];
        var set = SidecarBookinfo.For(SidecarBookinfo.Snapshot(scenario), SidecarBookinfo.SidecarNode(ip, name + "-abc", labels: labels));
        var violations = new List<ProtoViolation>();
        foreach (var (_, resources) in set.ByType)
        {
            foreach (var resource in resources.Values)
            {
                violations.AddRange(EnvoyProtoValidator.Official.Validate(resource.Packed, resource.Name));
            }
        }

        violations.AddRange(Rules(set));
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Fact]
    public void Validate_PlaintextProxylessResources_NoViolations()
    {
        // Plaintext only: the proxyless flavour's ISTIO_MUTUAL clusters carry a combined validation context without
        // validation_context_sds_secret_config (gRPC reads certificate providers), which Envoy's rules reject.
        var set = MeshTranslator.Translate(SidecarBookinfo.Snapshot("jason-v2"));
        var violations = set.ByType.Values.SelectMany(r => r.Values).SelectMany(r => EnvoyProtoValidator.Official.Validate(r.Packed, r.Name)).ToList();
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Fact]
    public void Validator_UnknownFieldNumber_Reported()
    {
        var cluster = new Cluster { Name = "c", ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) };
        var bytes = cluster.ToByteArray().Concat(new byte[] { 0xB8, 0x3E, 0x01 }).ToArray(); // field 999, varint 1
        var any = new Any { TypeUrl = "type.googleapis.com/envoy.config.cluster.v3.Cluster", Value = ByteString.CopyFrom(bytes) };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(any, "c"), v => v.Message.Contains("unknown field number 999", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_WrongWireType_Reported()
    {
        // Cluster.name (1) sent as a varint.
        var any = new Any { TypeUrl = "type.googleapis.com/envoy.config.cluster.v3.Cluster", Value = ByteString.CopyFrom(0x08, 0x01) };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(any, "c"), v => v.Message.Contains("wire type", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_UnknownAnyType_Reported()
    {
        var listener = new Listener { Name = "l", Address = Address(80) };
        listener.FilterChains.Add(new FilterChain { Filters = { new Filter { Name = "x", TypedConfig = new Any { TypeUrl = "type.googleapis.com/mesh.NotEnvoy" } } } });
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(listener), "l"), v => v.Message.Contains("not in the Envoy API", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_StringMinLenInsideAny_Reported()
    {
        // TcpProxy.stat_prefix has min_len 1; the proxy sits inside a filter's Any inside the listener.
        var listener = new Listener { Name = "l", Address = Address(80) };
        listener.FilterChains.Add(new FilterChain { Filters = { new Filter { Name = "envoy.filters.network.tcp_proxy", TypedConfig = Any.Pack(new TcpProxy { Cluster = "c" }) } } });
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(listener), "l"), v => v.Path.EndsWith("stat_prefix", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_NumericBound_Reported()
    {
        // SocketAddress.port_value lte 65535.
        var listener = new Listener { Name = "l", Address = new Address { SocketAddress = new SocketAddress { Address = "0.0.0.0", PortValue = 70000 } } };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(listener), "l"), v => v.Path.EndsWith("port_value", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_RequiredMessage_Reported()
    {
        // Route.match is required.
        var route = new RouteConfiguration { Name = "r", VirtualHosts = { new VirtualHost { Name = "v", Domains = { "*" }, Routes = { new Envoy.Config.Route.V3.Route { Route_ = new RouteAction { Cluster = "c" } } } } } };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(route), "r"), v => v.Path.EndsWith(".match", StringComparison.Ordinal) && v.Message == "is required");
    }

    [Fact]
    public void Validator_RequiredOneof_Reported()
    {
        // RouteAction's cluster_specifier oneof is required.
        var route = new RouteConfiguration { Name = "r", VirtualHosts = { new VirtualHost { Name = "v", Domains = { "*" }, Routes = { new Envoy.Config.Route.V3.Route { Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction() } } } } };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(route), "r"), v => v.Message.Contains("oneof 'cluster_specifier' is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_RepeatedMinItems_Reported()
    {
        // VirtualHost.domains needs at least one item.
        var route = new RouteConfiguration { Name = "r", VirtualHosts = { new VirtualHost { Name = "v" } } };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(route), "r"), v => v.Path.EndsWith("domains", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_EnumDefinedOnly_Reported()
    {
        var cluster = new Cluster { Name = "c", Type = (Cluster.Types.DiscoveryType)42 };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(cluster), "c"), v => v.Message.Contains("enum value 42", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_DurationBound_Reported()
    {
        // Cluster.cleanup_interval must be > 0.
        var cluster = new Cluster { Name = "c", CleanupInterval = new Duration() };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(cluster), "c"), v => v.Path.EndsWith("cleanup_interval", StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_HeaderNameRegex_Reported()
    {
        var match = new RouteMatch { Prefix = "/", Headers = { new HeaderMatcher { Name = "bad header\n", PresentMatch = true } } };
        var route = new RouteConfiguration { Name = "r", VirtualHosts = { new VirtualHost { Name = "v", Domains = { "*" }, Routes = { new Envoy.Config.Route.V3.Route { Match = match, Route_ = new RouteAction { Cluster = "c" } } } } } };
        Assert.Contains(EnvoyProtoValidator.Official.Validate(Any.Pack(route), "r"), v => v.Message.Contains("HTTP header name", StringComparison.Ordinal));
    }

    [Fact]
    public void Rules_DuplicateListenerName_Reported() =>
        AssertRule("duplicate listener name", listeners: [new Listener { Name = "a", Address = Address(1) }, new Listener { Name = "a", Address = Address(2) }]);

    [Fact]
    public void Rules_DuplicateListenerAddress_Reported() =>
        AssertRule("duplicate listener address", listeners: [new Listener { Name = "a", Address = Address(1) }, new Listener { Name = "b", Address = Address(1) }]);

    [Fact]
    public void Rules_DuplicateCluster_Reported() =>
        AssertRule("duplicate cluster name", clusters: [new Cluster { Name = "c" }, new Cluster { Name = "c" }]);

    [Fact]
    public void Rules_DuplicateRouteConfiguration_Reported() =>
        AssertRule("duplicate route configuration name", routes: [new RouteConfiguration { Name = "r" }, new RouteConfiguration { Name = "r" }]);

    [Fact]
    public void Rules_DuplicateVirtualHost_Reported() =>
        AssertRule("duplicate virtual host name", routes: [new RouteConfiguration { Name = "r", VirtualHosts = { new VirtualHost { Name = "v", Domains = { "a" } }, new VirtualHost { Name = "v", Domains = { "b" } } } }]);

    [Fact]
    public void Rules_DuplicateDomain_Reported() =>
        AssertRule("duplicate domain", routes: [new RouteConfiguration { Name = "r", VirtualHosts = { new VirtualHost { Name = "v", Domains = { "a" } }, new VirtualHost { Name = "w", Domains = { "a" } } } }]);

    [Fact]
    public void Rules_TlsMatchWithoutInspector_Reported() =>
        AssertRule("without the tls_inspector", listeners: [new Listener { Name = "l", Address = Address(1), FilterChains = { new FilterChain { Name = "c", FilterChainMatch = new FilterChainMatch { TransportProtocol = "tls" } } } }]);

    [Fact]
    public void Rules_ServerNamesWithoutInspector_Reported() =>
        AssertRule("without the tls_inspector", listeners: [new Listener { Name = "l", Address = Address(1), FilterChains = { new FilterChain { Name = "c", FilterChainMatch = new FilterChainMatch { ServerNames = { "a.example" } } } } }]);

    [Fact]
    public void Rules_AlpnWithoutInspector_Reported() =>
        AssertRule("without a TLS or HTTP inspector", listeners: [new Listener { Name = "l", Address = Address(1), FilterChains = { new FilterChain { Name = "c", FilterChainMatch = new FilterChainMatch { ApplicationProtocols = { "h2" } } } } }]);

    [Fact]
    public void Rules_IdenticalFilterChainMatches_Reported() =>
        AssertRule("same filter_chain_match", listeners: [new Listener { Name = "l", Address = Address(1), FilterChains = { new FilterChain { Name = "a", FilterChainMatch = new FilterChainMatch { DestinationPort = 80 } }, new FilterChain { Name = "b", FilterChainMatch = new FilterChainMatch { DestinationPort = 80 } } } }]);

    [Fact]
    public void Rules_MixedTransportProtocolOnPort_Reported() =>
        AssertRule("some chains for the port", listeners:
        [
            new Listener
            {
                Name = "l",
                Address = Address(1),
                ListenerFilters = { new ListenerFilter { Name = "envoy.filters.listener.tls_inspector" } },
                FilterChains =
                {
                    new FilterChain { Name = "a", FilterChainMatch = new FilterChainMatch { DestinationPort = 80, TransportProtocol = "tls" } },
                    new FilterChain { Name = "b", FilterChainMatch = new FilterChainMatch { DestinationPort = 80 } },
                },
            },
        ]);

    [Fact]
    public void Rules_DuplicateListenerFilter_Reported() =>
        AssertRule("duplicate listener filter", listeners: [new Listener { Name = "l", Address = Address(1), ListenerFilters = { new ListenerFilter { Name = "x" }, new ListenerFilter { Name = "x" } } }]);

    [Fact]
    public void Rules_TlsChainWithHcmWithoutSocket_Reported() =>
        AssertRule("terminates no TLS", listeners:
        [
            new Listener
            {
                Name = "l",
                Address = Address(1),
                ListenerFilters = { new ListenerFilter { Name = "envoy.filters.listener.tls_inspector" } },
                FilterChains =
                {
                    new FilterChain
                    {
                        Name = "a",
                        FilterChainMatch = new FilterChainMatch { TransportProtocol = "tls" },
                        Filters = { new Filter { Name = "hcm", TypedConfig = Any.Pack(new Hcm.HttpConnectionManager { StatPrefix = "x", Rds = new Hcm.Rds { RouteConfigName = "r" } }) } },
                    },
                },
            },
        ], routes: [new RouteConfiguration { Name = "r" }]);

    [Fact]
    public void Rules_ClusterWithBothTransportSockets_Reported() =>
        AssertRule("sets both", clusters: [new Cluster { Name = "c", TransportSocket = new TransportSocket { Name = "t" }, TransportSocketMatches = { new Cluster.Types.TransportSocketMatch { Name = "m" } } }]);

    [Fact]
    public void Rules_UnservedRds_Reported() =>
        AssertRule("referenced by a listener (RDS) but not served", listeners:
        [
            new Listener { Name = "l", Address = Address(1), FilterChains = { new FilterChain { Name = "a", Filters = { new Filter { Name = "hcm", TypedConfig = Any.Pack(new Hcm.HttpConnectionManager { StatPrefix = "x", Rds = new Hcm.Rds { RouteConfigName = "missing" } }) } } } } },
        ]);

    [Fact]
    public void Rules_UnservedEds_Reported() =>
        AssertRule("is not served", clusters: [new Cluster { Name = "c", Type = Cluster.Types.DiscoveryType.Eds, EdsClusterConfig = new Cluster.Types.EdsClusterConfig { ServiceName = "c" } }]);

    [Fact]
    public void Rules_UnservedCluster_Reported() =>
        AssertRule("referenced by a route or TCP proxy", routes: [new RouteConfiguration { Name = "r", VirtualHosts = { new VirtualHost { Name = "v", Domains = { "*" }, Routes = { new Envoy.Config.Route.V3.Route { Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction { Cluster = "missing" } } } } } }]);

    [Fact]
    public void Rules_GeneratedConfigWithPlantedDuplicate_Reported()
    {
        var set = SidecarBookinfo.Productpage("jason-v2");
        var listeners = SidecarBookinfo.Of<Listener>(set, XdsTypeUrls.Listener);
        var copy = listeners[0].Clone();
        listeners.Add(copy);
        var violations = SidecarConfigRules.Check(listeners, SidecarBookinfo.Of<RouteConfiguration>(set, XdsTypeUrls.RouteConfiguration), SidecarBookinfo.Of<Cluster>(set, XdsTypeUrls.Cluster), SidecarBookinfo.Of<ClusterLoadAssignment>(set, XdsTypeUrls.ClusterLoadAssignment));
        Assert.Contains(violations, v => v.Message == "duplicate listener name");
    }

    private static IReadOnlyList<ProtoViolation> Rules(XdsResourceSet set) => SidecarConfigRules.Check(
        SidecarBookinfo.Of<Listener>(set, XdsTypeUrls.Listener),
        SidecarBookinfo.Of<RouteConfiguration>(set, XdsTypeUrls.RouteConfiguration),
        SidecarBookinfo.Of<Cluster>(set, XdsTypeUrls.Cluster),
        SidecarBookinfo.Of<ClusterLoadAssignment>(set, XdsTypeUrls.ClusterLoadAssignment));

    private static void AssertRule(string expected, Listener[]? listeners = null, RouteConfiguration[]? routes = null, Cluster[]? clusters = null)
    {
        var violations = SidecarConfigRules.Check(listeners ?? [], routes ?? [], clusters ?? [], []);
        Assert.Contains(violations, v => v.Message.Contains(expected, StringComparison.Ordinal));
    }

    private static Address Address(uint port) => new() { SocketAddress = new SocketAddress { Address = "0.0.0.0", PortValue = port } };
}
