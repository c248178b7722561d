using Mesh.ControlPlane.Translation.Sidecar;
using Mesh.Testing.Sidecar;

namespace Mesh.ControlPlane.Tests.Sidecar;

/// <summary>
/// Calls followed through the generated Envoy configuration by <see cref="EnvoySimulator"/>: outbound from a
/// sidecar (captured on 15001) and inbound to one (15006), for each PeerAuthentication mode, the sample's
/// VirtualService scenarios, unknown destinations under both outbound traffic modes, and TCP services.
/// </summary>
public class SidecarSimulationTests
{
    private const string Reviews = "reviews.default.svc.cluster.local";
    private const string Unknown = "10.200.0.9";

    private const string TcpService = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: mysql, namespace: default}
        spec:
          hosts: [mysql.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 3306, name: tcp, protocol: TCP}]
          endpoints:
          - {address: 10.1.0.50, ports: {tcp: 3306}, labels: {app: mysql}}
        """;

    private const string ReviewsDisable = """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          mtls: {mode: DISABLE}
        """;

    [Theory]
    // name, scenario, sidecar (workload index), registryOnly, host, port, destination ip, end-user header, path -> outcome, cluster
    [InlineData("jason sees v2", "jason-v2", 0, false, "reviews", 9080, null, "jason", "/", SimulationOutcome.Routed, "outbound|9080|v2|" + Reviews)]
    [InlineData("others see v1", "jason-v2", 0, false, "reviews", 9080, null, null, "/", SimulationOutcome.Routed, "outbound|9080|v1|" + Reviews)]
    [InlineData("header match is case-sensitive", "jason-v2", 0, false, "reviews", 9080, null, "JASON", "/", SimulationOutcome.Routed, "outbound|9080|v1|" + Reviews)]
    [InlineData("name.ns", "jason-v2", 0, false, "reviews.default", 9080, null, "jason", "/", SimulationOutcome.Routed, "outbound|9080|v2|" + Reviews)]
    [InlineData("name.ns.svc", "jason-v2", 0, false, "reviews.default.svc", 9080, null, null, "/", SimulationOutcome.Routed, "outbound|9080|v1|" + Reviews)]
    [InlineData("FQDN", "jason-v2", 0, false, Reviews, 9080, null, "jason", "/", SimulationOutcome.Routed, "outbound|9080|v2|" + Reviews)]
    [InlineData("host with port", "jason-v2", 0, false, "reviews:9080", 9080, null, "jason", "/", SimulationOutcome.Routed, "outbound|9080|v2|" + Reviews)]
    [InlineData("upper-case host", "jason-v2", 0, false, "REVIEWS", 9080, null, null, "/", SimulationOutcome.Routed, "outbound|9080|v1|" + Reviews)]
    [InlineData("all-v1", "all-v1", 0, false, "reviews", 9080, null, "jason", "/", SimulationOutcome.Routed, "outbound|9080|v1|" + Reviews)]
    [InlineData("details without a VirtualService", null, 0, false, "details", 9080, null, null, "/", SimulationOutcome.Routed, "outbound|9080||details.default.svc.cluster.local")]
    [InlineData("ratings from reviews", null, 3, false, "ratings", 9080, null, null, "/", SimulationOutcome.Routed, "outbound|9080||ratings.default.svc.cluster.local")]
    [InlineData("unknown host, ALLOW_ANY", "jason-v2", 0, false, "example.com", 9080, Unknown, null, "/", SimulationOutcome.Routed, "PassthroughCluster")]
    [InlineData("unknown host, REGISTRY_ONLY", "jason-v2", 0, true, "example.com", 9080, Unknown, null, "/", SimulationOutcome.Routed, "BlackHoleCluster")]
    [InlineData("TCP to an unknown address, ALLOW_ANY", null, 0, false, null, 5432, Unknown, null, "/", SimulationOutcome.Routed, "PassthroughCluster")]
    [InlineData("TCP to an unknown address, REGISTRY_ONLY", null, 0, true, null, 5432, Unknown, null, "/", SimulationOutcome.Routed, "BlackHoleCluster")]
    [InlineData("a loop to 15001", null, 0, false, null, 15001, Unknown, null, "/", SimulationOutcome.Routed, "BlackHoleCluster")]
    public void Outbound_Call_ReachesExpectedCluster(string name, string? scenario, int sidecar, bool registryOnly, string? host, int port, string? ip, string? endUser, string path, SimulationOutcome outcome, string cluster)
    {
        var result = Run(scenario, sidecar, registryOnly, new SimulatedCall
        {
            Port = port,
            DestinationIp = ip ?? SidecarBookinfo.ReviewsV1Ip,
            Host = host,
            Path = path,
            Headers = endUser is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["end-user"] = endUser },
        });
        Assert.True(result.Outcome == outcome, $"{name}: {result}");
        Assert.Equal(cluster, result.Cluster);
    }

    [Fact]
    public void Outbound_CanaryV3_SplitsBetweenV1AndV3()
    {
        var result = Run("canary-v3", 0, false, new SimulatedCall { Port = 9080, DestinationIp = SidecarBookinfo.ReviewsV1Ip, Host = "reviews" });
        Assert.Equal(SimulationOutcome.Routed, result.Outcome);
        Assert.Equal(2, result.Clusters.Count);
        Assert.Contains(result.Clusters, c => c.Cluster == "outbound|9080|v1|" + Reviews && c.Weight > 0);
        Assert.Contains(result.Clusters, c => c.Cluster == "outbound|9080|v3|" + Reviews && c.Weight > 0);
    }

    [Theory]
    [InlineData("ratings-delay")]
    [InlineData("ratings-abort")]
    public void Outbound_RatingsFaultScenario_RouteCarriesFault(string scenario)
    {
        var yaml = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "samples", "bookinfo", "scenarios", scenario + ".yaml"));
        var headers = yaml.Contains("jason", StringComparison.Ordinal) ? new Dictionary<string, string> { ["end-user"] = "jason" } : new Dictionary<string, string>();
        var result = Run(scenario, 3, false, new SimulatedCall { Port = 9080, DestinationIp = SidecarBookinfo.RatingsIp, Host = "ratings", Headers = headers });
        Assert.Equal(SimulationOutcome.Routed, result.Outcome);
        Assert.True(result.Fault, result.ToString());
        Assert.StartsWith("outbound|9080|", result.Cluster, StringComparison.Ordinal);
    }

    [Fact]
    public void Outbound_OtherNamespace_BareShortNameIsNotAService()
    {
        var set = SidecarBookinfo.For(SidecarBookinfo.Snapshot(null), SidecarBookinfo.SidecarNode("10.9.0.1", "client", ns: "other"));
        var simulator = SidecarBookinfo.Simulator(set);
        Assert.Equal("PassthroughCluster", simulator.Run(new SimulatedCall { Port = 9080, Host = "reviews" }).Cluster);
        Assert.Equal("outbound|9080||" + Reviews, simulator.Run(new SimulatedCall { Port = 9080, Host = "reviews.default" }).Cluster);
    }

    [Fact]
    public void Outbound_StrictDestination_UpstreamUsesIstioSni()
    {
        var result = Run("mtls-strict", 0, false, new SimulatedCall { Port = 9080, DestinationIp = SidecarBookinfo.ReviewsV1Ip, Host = "reviews" });
        Assert.Equal("outbound|9080||" + Reviews, result.Cluster);
        Assert.Equal("outbound_.9080_._." + Reviews, result.UpstreamSni);
    }

    [Fact]
    public void Outbound_PlaintextMesh_UpstreamIsPlaintext()
    {
        var result = Run("jason-v2", 0, false, new SimulatedCall { Port = 9080, Host = "reviews" });
        Assert.Null(result.UpstreamSni);
        Assert.Equal([SidecarBookinfo.ReviewsV1Ip + ":9080"], result.Endpoints);
    }

    [Fact]
    public void Outbound_TcpService_ByEndpointAddress()
    {
        var set = SidecarBookinfo.For(SidecarBookinfo.Snapshot(null, TcpService), SidecarBookinfo.SidecarNode(SidecarBookinfo.ProductpageIp, "p"));
        var simulator = SidecarBookinfo.Simulator(set);
        var known = simulator.Run(new SimulatedCall { Port = 3306, DestinationIp = "10.1.0.50" });
        Assert.Equal("outbound|3306||mysql.default.svc.cluster.local", known.Cluster);
        Assert.Equal(["10.1.0.50:3306"], known.Endpoints);
        Assert.Equal("PassthroughCluster", simulator.Run(new SimulatedCall { Port = 3306, DestinationIp = Unknown }).Cluster);
    }

    [Theory]
    // name, scenario, workload, port, tls, alpn, client certificate -> outcome, cluster
    [InlineData("STRICT: plaintext is rejected", "mtls-strict", 2, 9080, false, "", false, SimulationOutcome.NoFilterChain, null)]
    [InlineData("STRICT: mTLS from Envoy is accepted", "mtls-strict", 2, 9080, true, "istio-peer-exchange,istio,h2", true, SimulationOutcome.Routed, "inbound|9080||")]
    [InlineData("STRICT: mTLS with h2 only (proxyless gRPC) is accepted", "mtls-strict", 2, 9080, true, "h2", true, SimulationOutcome.Routed, "inbound|9080||")]
    [InlineData("STRICT: TLS without a client certificate is rejected", "mtls-strict", 2, 9080, true, "istio", false, SimulationOutcome.MtlsRequired, null)]
    [InlineData("STRICT: an undeclared port refuses plaintext", "mtls-strict", 2, 8080, false, "", false, SimulationOutcome.NoFilterChain, null)]
    [InlineData("STRICT: an undeclared port passes mTLS through", "mtls-strict", 2, 8080, true, "istio", true, SimulationOutcome.Routed, "InboundPassthroughCluster")]
    [InlineData("PERMISSIVE: plaintext is accepted", "mtls-strict", 0, 9080, false, "", false, SimulationOutcome.Routed, "inbound|9080||")]
    [InlineData("PERMISSIVE: mTLS with Istio ALPN is accepted", "mtls-strict", 0, 9080, true, "istio-peer-exchange,istio,h2", true, SimulationOutcome.Routed, "inbound|9080||")]
    [InlineData("PERMISSIVE: TLS with only h2 finds no chain (Istio's documented gap)", "mtls-strict", 0, 9080, true, "h2", true, SimulationOutcome.NoFilterChain, null)]
    [InlineData("default (PERMISSIVE): plaintext to reviews", null, 2, 9080, false, "", false, SimulationOutcome.Routed, "inbound|9080||")]
    [InlineData("default: an undeclared port passes plaintext through", null, 2, 8080, false, "", false, SimulationOutcome.Routed, "InboundPassthroughCluster")]
    [InlineData("a loop to 15006", null, 2, 15006, false, "", false, SimulationOutcome.Routed, "BlackHoleCluster")]
    public void Inbound_Call_FollowsPeerAuthentication(string name, string? scenario, int workload, int port, bool tls, string alpn, bool certificate, SimulationOutcome outcome, string? cluster)
    {
        var (_, ip, _) = SidecarBookinfo.Workloads[workload];
        var result = Run(scenario, workload, false, new SimulatedCall
        {
            Inbound = true,
            DestinationIp = ip,
            Port = port,
            Tls = tls,
            Alpn = alpn.Length == 0 ? [] : alpn.Split(','),
            ClientCertificate = certificate,
            Host = "anything",
        });
        Assert.True(result.Outcome == outcome, $"{name}: {result}");
        Assert.Equal(cluster, result.Cluster);
    }

    [Fact]
    public void Inbound_StrictReviews_TerminatesMtlsAndRunsRbac()
    {
        var result = Run("mtls-strict", 2, false, new SimulatedCall { Inbound = true, DestinationIp = SidecarBookinfo.ReviewsV1Ip, Port = 9080, Tls = true, Alpn = ["istio", "h2"], ClientCertificate = true, Host = "reviews" });
        Assert.True(result.TerminatedMtls);
        Assert.Contains("envoy.filters.http.rbac", result.HttpFilters);
        Assert.Equal("inbound|9080||", result.RouteConfiguration);
    }

    [Theory]
    [InlineData(false, "", SimulationOutcome.Routed)]
    [InlineData(true, "istio", SimulationOutcome.NoFilterChain)]
    public void Inbound_Disable_PlaintextOnly(bool tls, string alpn, SimulationOutcome outcome)
    {
        var set = SidecarBookinfo.For(SidecarBookinfo.Snapshot(null, ReviewsDisable), SidecarBookinfo.SidecarNode(SidecarBookinfo.ReviewsV2Ip, "reviews-v2-x", labels: SidecarBookinfo.Workloads[3].Labels));
        var result = SidecarBookinfo.Simulator(set).Run(new SimulatedCall { Inbound = true, DestinationIp = SidecarBookinfo.ReviewsV2Ip, Port = 9080, Tls = tls, Alpn = alpn.Length == 0 ? [] : [alpn], ClientCertificate = tls, Host = "reviews" });
        Assert.Equal(outcome, result.Outcome);
    }

    [Fact]
    public void Outbound_DisabledDestination_NoAutoMtls()
    {
        var set = SidecarBookinfo.For(SidecarBookinfo.Snapshot(null, ReviewsDisable), SidecarBookinfo.SidecarNode(SidecarBookinfo.ProductpageIp, "p"));
        var result = SidecarBookinfo.Simulator(set).Run(new SimulatedCall { Port = 9080, Host = "reviews" });
        Assert.Equal("outbound|9080||" + Reviews, result.Cluster);
        Assert.Null(result.UpstreamSni);
    }

    private static SimulationResult Run(string? scenario, int workload, bool registryOnly, SimulatedCall call)
    {
        var (name, ip, labels) = SidecarBookinfo.Workloads[workload];
        var set = SidecarBookinfo.For(
            SidecarBookinfo.Snapshot(scenario),
            SidecarBookinfo.SidecarNode(ip, name + "-abc", labels: labels),
            registryOnly ? OutboundTrafficMode.RegistryOnly : OutboundTrafficMode.AllowAny);
        return SidecarBookinfo.Simulator(set).Run(call);
    }
}
