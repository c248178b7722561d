using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Mesh.ControlPlane.Tests.Sidecar;
using Mesh.ControlPlane.Translation;
using Mesh.Testing.Sidecar;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Tests.Gateways;

public class GatewayTranslatorTests
{
    [Fact]
    public void Translate_EnvoyGateway_ListenerAndRoutesShapedAsIstiodServesThem()
    {
        var set = GatewayTestConfig.ForRouter(GatewayTestConfig.Snapshot(GatewayTestConfig.BookinfoGateway));

        var listener = (Listener)Assert.Single(set.Of(XdsTypeUrls.Listener)).Value.Message;
        Assert.Equal("0.0.0.0_8080", listener.Name);
        Assert.Equal(("0.0.0.0", 8080u), (listener.Address.SocketAddress.Address, listener.Address.SocketAddress.PortValue));
        Assert.Null(listener.ApiListener); // an Envoy gateway gets a plain listener
        var hcm = Assert.Single(listener.FilterChains).Filters[0].TypedConfig.Unpack<Hcm.HttpConnectionManager>();
        Assert.Equal("http.8080", hcm.Rds.RouteConfigName);
        Assert.Equal(["envoy.filters.http.fault", "envoy.filters.http.router"], hcm.HttpFilters.Select(f => f.Name));

        var routes = (RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)["http.8080"].Message;
        var vhost = Assert.Single(routes.VirtualHosts);
        Assert.Equal("*:8080", vhost.Name);
        Assert.Equal(["*"], vhost.Domains);
        Assert.Equal(5, vhost.Routes.Count);
        Assert.All(vhost.Routes, r => Assert.Equal("outbound|9080||productpage.default.svc.cluster.local", r.Route_.Cluster));
        Assert.Equal("/productpage", vhost.Routes[0].Match.Path);
        Assert.Equal("/static", vhost.Routes[1].Match.Prefix);
    }

    [Fact]
    public void Translate_NodeTheGatewayDoesNotSelect_GetsNoGatewayListener()
    {
        var set = GatewayTestConfig.ForRouter(GatewayTestConfig.Snapshot(GatewayTestConfig.BookinfoGateway), new Dictionary<string, string> { ["istio"] = "egressgateway" });

        Assert.Empty(set.Of(XdsTypeUrls.Listener));
        Assert.Empty(set.Of(XdsTypeUrls.RouteConfiguration));
    }

    [Fact]
    public void Translate_SplitAndRewrite_WeightedClustersAndPrefixRewrite()
    {
        var set = GatewayTestConfig.ForRouter(GatewayTestConfig.Snapshot(GatewayTestConfig.HttpsGateway));

        var routes = (RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)["https.8443.https.secure.default"].Message;
        var vhost = Assert.Single(routes.VirtualHosts);
        Assert.Equal("bookinfo.example.com:8443", vhost.Name);
        Assert.Equal(["bookinfo.example.com", "bookinfo.example.com:8443"], vhost.Domains);
        var split = vhost.Routes[0];
        Assert.Equal("/reviews/", split.Match.Prefix);
        Assert.Equal("/", split.Route_.PrefixRewrite);
        Assert.Equal(
            [("outbound|9080|v1|reviews.default.svc.cluster.local", 90u), ("outbound|9080|v2|reviews.default.svc.cluster.local", 10u)],
            split.Route_.WeightedClusters.Clusters.Select(c => (c.Name, c.Weight)));
        Assert.Equal("outbound|9080||productpage.default.svc.cluster.local", vhost.Routes[1].Route_.Cluster);
    }

    [Fact]
    public void Translate_HttpsMutual_TlsTerminatedWithIstioSdsNames()
    {
        var set = GatewayTestConfig.ForRouter(GatewayTestConfig.Snapshot(GatewayTestConfig.HttpsGateway));

        var listener = (Listener)set.Of(XdsTypeUrls.Listener)["0.0.0.0_8443"].Message;
        var chain = Assert.Single(listener.FilterChains);
        Assert.Equal("https.8443.https.secure.default", chain.Filters[0].TypedConfig.Unpack<Hcm.HttpConnectionManager>().Rds.RouteConfigName);
        var tls = chain.TransportSocket.TypedConfig.Unpack<DownstreamTlsContext>();
        Assert.True(tls.RequireClientCertificate);
        Assert.Equal("file-cert:/etc/certs/server.pem~/etc/certs/server.key", Assert.Single(tls.CommonTlsContext.TlsCertificateSdsSecretConfigs).Name);
        Assert.Equal("file-root:/etc/certs/ca.pem", tls.CommonTlsContext.ValidationContextSdsSecretConfig.Name);
        Assert.Equal(["h2", "http/1.1"], tls.CommonTlsContext.AlpnProtocols);
    }

    [Fact]
    public void Translate_CredentialName_KubernetesSdsNames()
    {
        var snapshot = GatewayTestConfig.Snapshot(GatewayTestConfig.HttpsGateway.Replace(
            "tls: {mode: MUTUAL, serverCertificate: /etc/certs/server.pem, privateKey: /etc/certs/server.key, caCertificates: /etc/certs/ca.pem}",
            "tls: {mode: MUTUAL, credentialName: bookinfo-cert}",
            StringComparison.Ordinal));

        var listener = (Listener)GatewayTestConfig.ForRouter(snapshot).Of(XdsTypeUrls.Listener)["0.0.0.0_8443"].Message;
        var tls = listener.FilterChains[0].TransportSocket.TypedConfig.Unpack<DownstreamTlsContext>();
        Assert.Equal("kubernetes://bookinfo-cert", tls.CommonTlsContext.TlsCertificateSdsSecretConfigs[0].Name);
        Assert.Equal("kubernetes://bookinfo-cert-cacert", tls.CommonTlsContext.ValidationContextSdsSecretConfig.Name);
    }

    [Fact]
    public void Translate_HttpsRedirect_RequireTlsOnTheServersHosts()
    {
        var set = GatewayTestConfig.ForRouter(GatewayTestConfig.Snapshot(GatewayTestConfig.HttpsGateway));

        var routes = (RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)["http.8080"].Message;
        var vhost = Assert.Single(routes.VirtualHosts);
        Assert.Equal("bookinfo.example.com:8080", vhost.Name);
        Assert.Equal(VirtualHost.Types.TlsRequirementType.All, vhost.RequireTls);
    }

    [Fact]
    public void Find_MeshGatewayWorkload_ListenerWithApiListenerAndItsRoutes()
    {
        var set = MeshTranslator.Translate(GatewayTestConfig.Snapshot(GatewayTestConfig.HttpsGateway));
        var workload = GatewayTestConfig.MeshGatewayWorkload();

        var listener = (Listener)set.Find(XdsTypeUrls.Listener, "0.0.0.0_8443", workload)!.Message;
        var api = listener.ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>();
        Assert.Equal("https.8443.https.secure.default", api.Rds.RouteConfigName);
        Assert.NotNull(listener.FilterChains[0].TransportSocket);
        var routes = (RouteConfiguration)set.Find(XdsTypeUrls.RouteConfiguration, "https.8443.https.secure.default", workload)!.Message;
        Assert.Equal("bookinfo.example.com:8443", Assert.Single(routes.VirtualHosts).Name);

        // A workload no Gateway selects: no listener, and an empty route configuration.
        var other = GatewayTestConfig.MeshGatewayWorkload(new Dictionary<string, string> { ["app"] = "reviews" });
        Assert.Null(set.Find(XdsTypeUrls.Listener, "0.0.0.0_8443", other));
        Assert.Empty(((RouteConfiguration)set.Find(XdsTypeUrls.RouteConfiguration, "https.8443.https.secure.default", other)!.Message).VirtualHosts);
    }

    [Fact]
    public void Translate_MatchNamingOtherGatewayOrQueryParameters_LeftOutNotWidened()
    {
        var snapshot = GatewayTestConfig.Snapshot(GatewayTestConfig.BookinfoGateway, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: internal}
            spec:
              selector: {istio: internalgateway}
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["internal.example.com"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: shop}
            spec:
              hosts: ["shop.example.com"]
              gateways: [bookinfo-gateway, internal]
              http:
              - match: [{uri: {prefix: /admin}, gateways: [internal]}]
                route: [{destination: {host: details}}]
              - match: [{queryParams: {debug: {exact: "1"}}}]
                route: [{destination: {host: ratings}}]
              - route: [{destination: {host: productpage}}]
            """);

        var routes = (RouteConfiguration)GatewayTestConfig.ForRouter(snapshot).Of(XdsTypeUrls.RouteConfiguration)["http.8080"].Message;
        var shop = Assert.Single(routes.VirtualHosts, v => v.Name == "shop.example.com:8080");
        var only = Assert.Single(shop.Routes);
        Assert.Equal("outbound|9080||productpage.default.svc.cluster.local", only.Route_.Cluster);
    }

    [Theory]
    [InlineData("bookinfo")]
    [InlineData("https")]
    public void Validate_EnvoyGatewayConfig_NoViolations(string which)
    {
        var set = GatewayTestConfig.ForRouter(GatewayTestConfig.Snapshot(which == "bookinfo" ? GatewayTestConfig.BookinfoGateway : GatewayTestConfig.HttpsGateway));
        var violations = new List<ProtoViolation>();
        foreach (var (_, resources) in set.ByType)
        {
            foreach (var resource in resources.Values)
            {
                violations.AddRange(EnvoyProtoValidator.Official.Validate(resource.Packed, resource.Name));
            }
        }

        violations.AddRange(SidecarConfigRules.Check(
            SidecarBookinfo.Of<Listener>(set, XdsTypeUrls.Listener),
            SidecarBookinfo.Of<RouteConfiguration>(set, XdsTypeUrls.RouteConfiguration),
            SidecarBookinfo.Of<Envoy.Config.Cluster.V3.Cluster>(set, XdsTypeUrls.Cluster),
            SidecarBookinfo.Of<Envoy.Config.Endpoint.V3.ClusterLoadAssignment>(set, XdsTypeUrls.ClusterLoadAssignment)));
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Fact]
    public void Simulate_EnvoyGateway_RequestsReachTheirClusters()
    {
        var simulator = SidecarBookinfo.Simulator(GatewayTestConfig.ForRouter(GatewayTestConfig.Snapshot(GatewayTestConfig.BookinfoGateway, GatewayTestConfig.HttpsGateway.Replace("number: 8080", "number: 8081", StringComparison.Ordinal))));

        var page = simulator.Run(new SimulatedCall { Direct = true, Port = 8080, Host = "anything.example", Path = "/productpage" });
        Assert.Equal((SimulationOutcome.Routed, "0.0.0.0_8080", "outbound|9080||productpage.default.svc.cluster.local"), (page.Outcome, page.Listener, page.Cluster));
        Assert.Equal(SimulationOutcome.NoRoute, simulator.Run(new SimulatedCall { Direct = true, Port = 8080, Host = "anything.example", Path = "/elsewhere" }).Outcome);

        var plaintext = simulator.Run(new SimulatedCall { Direct = true, Port = 8443, Host = "bookinfo.example.com", Path = "/reviews/1" });
        Assert.Equal(SimulationOutcome.TlsMismatch, plaintext.Outcome);
        var noCertificate = simulator.Run(new SimulatedCall { Direct = true, Port = 8443, Tls = true, Sni = "bookinfo.example.com", Host = "bookinfo.example.com", Path = "/reviews/1" });
        Assert.Equal(SimulationOutcome.MtlsRequired, noCertificate.Outcome);
        var mutual = simulator.Run(new SimulatedCall { Direct = true, Port = 8443, Tls = true, ClientCertificate = true, Sni = "bookinfo.example.com", Host = "bookinfo.example.com", Path = "/reviews/1" });
        Assert.Equal(SimulationOutcome.Routed, mutual.Outcome);
        Assert.Equal(2, mutual.Clusters.Count);
    }
}
