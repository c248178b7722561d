using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Translation;
using Mesh.ControlPlane.Translation.Sidecar;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Sidecar;

public class SidecarTranslatorTests
{
    [Theory]
    [InlineData("sidecar~10.1.0.10~productpage-v1-abc.default~default.svc.cluster.local", null, true)]
    [InlineData("sidecar~10.1.0.10~productpage-v1-abc.default~default.svc.cluster.local", "grpc", false)]
    [InlineData("productpage-v1-abc.default", null, false)]
    [InlineData("router~10.1.0.10~gw.istio-system~istio-system.svc.cluster.local", null, false)]
    [InlineData("sidecar~not-an-ip~pod.default~default.svc.cluster.local", null, false)]
    public void SidecarNodeFrom_NodeId_DetectsEnvoySidecars(string id, string? generator, bool sidecar)
    {
        var node = new Node { Id = id, Metadata = new Struct() };
        if (generator is not null)
        {
            node.Metadata.Fields["GENERATOR"] = Value.ForString(generator);
        }

        var parsed = SidecarNode.From(node);
        Assert.Equal(sidecar, parsed is not null);
        if (parsed is not null)
        {
            Assert.Equal("10.1.0.10", parsed.IpAddress);
            Assert.Equal("productpage-v1-abc", parsed.PodName);
            Assert.Equal("default", parsed.Namespace);
        }
    }

    [Fact]
    public void ForClient_ProxylessAndSidecarNodes_GetTheirFlavour()
    {
        var translated = MeshTranslator.Translate(SidecarBookinfo.Snapshot("jason-v2"));
        var proxylessNode = new Node { Id = "productpage-v1-abc.default" };
        Assert.Same(translated, translated.ForClient(proxylessNode, ClientWorkload.Default));
        Assert.Same(translated, translated.ForClient(null, ClientWorkload.Default));

        var sidecar = translated.ForClient(SidecarBookinfo.SidecarNode(SidecarBookinfo.ProductpageIp, "productpage-v1-abc"), ClientWorkload.Default);
        Assert.NotSame(translated, sidecar);
        Assert.Contains(SidecarNames.VirtualOutbound, sidecar.Of(XdsTypeUrls.Listener).Keys);
        Assert.DoesNotContain("reviews.default.svc.cluster.local:9080", sidecar.Of(XdsTypeUrls.Listener).Keys);
        Assert.Contains("reviews.default.svc.cluster.local:9080", translated.Of(XdsTypeUrls.Listener).Keys);
        Assert.Same(sidecar, translated.ForClient(SidecarBookinfo.SidecarNode(SidecarBookinfo.ProductpageIp, "productpage-v1-abc"), ClientWorkload.Default));
    }

    [Fact]
    public void Translate_Productpage_HasIstioListenerLayout()
    {
        var set = SidecarBookinfo.Productpage("jason-v2");
        var listeners = set.Of(XdsTypeUrls.Listener);
        Assert.Equal(["0.0.0.0_9080", "virtualInbound", "virtualOutbound"], listeners.Keys.Order(StringComparer.Ordinal));

        var outbound = (Listener)listeners["virtualOutbound"].Message;
        Assert.True(outbound.UseOriginalDst);
        Assert.Equal(15001u, outbound.Address.SocketAddress.PortValue);
        Assert.Equal(["virtualOutbound-blackhole", "virtualOutbound-catchall-tcp"], outbound.FilterChains.Select(c => c.Name));

        var http = (Listener)listeners["0.0.0.0_9080"].Message;
        Assert.False(http.BindToPort);
        var hcm = http.FilterChains[0].Filters[0].TypedConfig.Unpack<Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpConnectionManager>();
        Assert.Equal("9080", hcm.Rds.RouteConfigName);

        var inbound = (Listener)listeners["virtualInbound"].Message;
        Assert.Equal(15006u, inbound.Address.SocketAddress.PortValue);
        Assert.Contains(inbound.ListenerFilters, f => f.Name == SidecarNames.TlsInspectorFilter);
        Assert.Contains(inbound.FilterChains, c => c.FilterChainMatch?.DestinationPort == 9080u);
    }

    [Fact]
    public void Translate_Routes_VirtualHostPerServiceWithShortNamesAndCatchAll()
    {
        var set = SidecarBookinfo.Productpage("jason-v2");
        var route = (RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)["9080"].Message;
        Assert.True(route.IgnorePortInHostMatching);
        Assert.Equal(
            ["details.default.svc.cluster.local:9080", "productpage.default.svc.cluster.local:9080", "ratings.default.svc.cluster.local:9080", "reviews.default.svc.cluster.local:9080", "allow_any"],
            route.VirtualHosts.Select(v => v.Name));
        Assert.Equal(
            ["reviews.default.svc.cluster.local", "reviews", "reviews.default", "reviews.default.svc"],
            route.VirtualHosts.Single(v => v.Name.StartsWith("reviews", StringComparison.Ordinal)).Domains);
    }

    [Fact]
    public void Translate_OtherNamespace_NoBareShortName()
    {
        var set = SidecarBookinfo.For(SidecarBookinfo.Snapshot(null), SidecarBookinfo.SidecarNode("10.9.0.1", "client", ns: "other"));
        var route = (RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)["9080"].Message;
        Assert.Equal(
            ["reviews.default.svc.cluster.local", "reviews.default", "reviews.default.svc"],
            route.VirtualHosts.Single(v => v.Name.StartsWith("reviews", StringComparison.Ordinal)).Domains);
    }

    [Fact]
    public void Translate_Plaintext_SharesClusterAndEndpointObjectsWithProxyless()
    {
        var translated = MeshTranslator.Translate(SidecarBookinfo.Snapshot("jason-v2"));
        var sidecar = translated.ForClient(SidecarBookinfo.SidecarNode(SidecarBookinfo.ProductpageIp, "productpage-v1-abc"), ClientWorkload.Default);
        foreach (var (name, resource) in translated.Of(XdsTypeUrls.Cluster))
        {
            Assert.Same(resource, sidecar.Of(XdsTypeUrls.Cluster)[name]);
        }

        Assert.Same(translated.Of(XdsTypeUrls.ClusterLoadAssignment), sidecar.Of(XdsTypeUrls.ClusterLoadAssignment));
        var clusters = sidecar.Of(XdsTypeUrls.Cluster).Keys.ToHashSet();
        Assert.Contains("outbound|9080|v2|reviews.default.svc.cluster.local", clusters);
        Assert.Contains("inbound|9080||", clusters);
        Assert.Contains(SidecarNames.BlackHoleCluster, clusters);
        Assert.Contains(SidecarNames.PassthroughCluster, clusters);
        Assert.Contains(SidecarNames.InboundPassthroughCluster, clusters);
    }

    [Fact]
    public void Translate_GrpcPort_ClusterSpeaksHttp2Upstream()
    {
        var set = SidecarBookinfo.Productpage(null);
        var cluster = (Cluster)set.Of(XdsTypeUrls.Cluster)["outbound|9080||reviews.default.svc.cluster.local"].Message;
        Assert.True(cluster.TypedExtensionProtocolOptions.ContainsKey(SidecarNames.HttpProtocolOptionsKey));
        var productpage = (Cluster)set.Of(XdsTypeUrls.Cluster)["outbound|9080||productpage.default.svc.cluster.local"].Message;
        Assert.False(productpage.TypedExtensionProtocolOptions.ContainsKey(SidecarNames.HttpProtocolOptionsKey));
    }

    [Fact]
    public void Translate_StrictDestination_AutoMtlsByTransportSocketMatches()
    {
        var set = SidecarBookinfo.Productpage("mtls-strict");
        var cluster = (Cluster)set.Of(XdsTypeUrls.Cluster)["outbound|9080|v1|reviews.default.svc.cluster.local"].Message;
        Assert.Null(cluster.TransportSocket);
        Assert.Equal(["tlsMode-istio", "tlsMode-disabled"], cluster.TransportSocketMatches.Select(m => m.Name));
        var tls = cluster.TransportSocketMatches[0].TransportSocket.TypedConfig.Unpack<Envoy.Extensions.TransportSockets.Tls.V3.UpstreamTlsContext>();
        Assert.Equal("outbound_.9080_.v1_.reviews.default.svc.cluster.local", tls.Sni);
        Assert.Equal(["istio-peer-exchange", "istio", "h2"], tls.CommonTlsContext.AlpnProtocols);
        Assert.Equal("default", tls.CommonTlsContext.TlsCertificateSdsSecretConfigs.Single().Name);
        Assert.Equal("ROOTCA", tls.CommonTlsContext.CombinedValidationContext.ValidationContextSdsSecretConfig.Name);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/bookinfo-reviews", tls.CommonTlsContext.CombinedValidationContext.DefaultValidationContext.MatchTypedSubjectAltNames.Single().Matcher.Exact);

        var assignment = (ClusterLoadAssignment)set.Of(XdsTypeUrls.ClusterLoadAssignment)["outbound|9080|v1|reviews.default.svc.cluster.local"].Message;
        var metadata = assignment.Endpoints.Single().LbEndpoints.Single().Metadata.FilterMetadata[SidecarNames.TransportSocketMatchKey];
        Assert.Equal("istio", metadata.Fields["tlsMode"].StringValue);
    }

    [Fact]
    public void Translate_TlsModeLabel_AutoMtlsWithoutPeerAuthentication()
    {
        var labelled = SidecarBookinfo.Services.Replace("labels: {app: ratings, version: v1}", "labels: {app: ratings, version: v1, security.istio.io/tlsMode: istio}", StringComparison.Ordinal);
        var read = Mesh.ControlPlane.Configuration.YamlResourceReader.Read(labelled, "x.yaml", "default");
        var snapshot = Mesh.ControlPlane.Model.MeshModelBuilder.Build(read.Resources, 1).Snapshot!;
        var set = SidecarBookinfo.For(snapshot, SidecarBookinfo.SidecarNode(SidecarBookinfo.ProductpageIp, "p"));
        Assert.NotEmpty(((Cluster)set.Of(XdsTypeUrls.Cluster)["outbound|9080||ratings.default.svc.cluster.local"].Message).TransportSocketMatches);
        Assert.Empty(((Cluster)set.Of(XdsTypeUrls.Cluster)["outbound|9080||details.default.svc.cluster.local"].Message).TransportSocketMatches);
    }

    [Fact]
    public void Translate_StrictWorkload_InboundChainRequiresMtlsAndCarriesRbac()
    {
        var snapshot = SidecarBookinfo.Snapshot("mtls-strict");
        var set = SidecarBookinfo.For(snapshot, SidecarBookinfo.SidecarNode(SidecarBookinfo.ReviewsV1Ip, "reviews-v1-x", labels: SidecarBookinfo.Workloads[2].Labels));
        var inbound = (Listener)set.Of(XdsTypeUrls.Listener)["virtualInbound"].Message;
        var chains = inbound.FilterChains.Where(c => c.FilterChainMatch?.DestinationPort == 9080u).ToList();
        var chain = Assert.Single(chains);
        Assert.Equal("tls", chain.FilterChainMatch.TransportProtocol);
        var downstream = chain.TransportSocket.TypedConfig.Unpack<Envoy.Extensions.TransportSockets.Tls.V3.DownstreamTlsContext>();
        Assert.True(downstream.RequireClientCertificate);
        var hcm = chain.Filters[0].TypedConfig.Unpack<Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpConnectionManager>();
        Assert.Equal(["envoy.filters.http.rbac", "envoy.filters.http.router"], hcm.HttpFilters.Select(f => f.Name));
        Assert.Equal("inbound|9080||", hcm.RouteConfig.VirtualHosts[0].Routes[0].Route_.Cluster);
    }

    [Fact]
    public void Translate_RegistryOnly_CatchAllsGoToBlackHole()
    {
        var set = SidecarBookinfo.Productpage(null, OutboundTrafficMode.RegistryOnly);
        var route = (RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)["9080"].Message;
        Assert.Equal("block_all", route.VirtualHosts[^1].Name);
        Assert.Equal(SidecarNames.BlackHoleCluster, route.VirtualHosts[^1].Routes[0].Route_.Cluster);
    }
}
