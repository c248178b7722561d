using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Mesh.ControlPlane.GatewayApi;
using Mesh.ControlPlane.Tests.Gateways;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Tests.GatewayApi;

/// <summary>What the control plane serves a gateway node for Gateway API resources: the converted Istio config, translated.</summary>
public sealed class GatewayApiServedTests
{
    private static readonly Dictionary<string, string> Labels = new() { [GatewayApiNames.GatewayNameLabel] = "bookinfo-gateway" };

    private static Mesh.ControlPlane.Translation.XdsResourceSet Served(params string[] documents)
    {
        var built = GatewayApiYaml.Build(documents);
        Assert.True(built.Errors.Count == 0, string.Join("\n", built.Errors));
        return GatewayTestConfig.ForRouter(built.Snapshot!, Labels);
    }

    [Fact]
    public void Serve_BookinfoHttpRoute_GatewayNodeGetsListenerAndRoutesToProductpage()
    {
        var set = Served(GatewayApiYaml.Services, GatewayApiYaml.BookinfoGateway);

        var listener = (Listener)Assert.Single(set.Of(XdsTypeUrls.Listener)).Value.Message;
        Assert.Equal("0.0.0.0_80", listener.Name);
        var hcm = Assert.Single(listener.FilterChains).Filters[0].TypedConfig.Unpack<Hcm.HttpConnectionManager>();
        var routes = (RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)[hcm.Rds.RouteConfigName].Message;
        var vhost = Assert.Single(routes.VirtualHosts);
        Assert.Equal(["*"], vhost.Domains);
        Assert.Equal(7, vhost.Routes.Count);
        Assert.All(vhost.Routes, r => Assert.Equal("outbound|9080||productpage.default.svc.cluster.local", r.Route_.Cluster));
        Assert.Equal("/productpage", vhost.Routes[0].Match.Path);
        Assert.Equal("/static/", vhost.Routes[6].Match.Prefix);
    }

    [Fact]
    public void Serve_WeightedHttpRouteAndGrpcRoute_WeightedClustersAndGrpcPath()
    {
        var split = GatewayApiYaml.Route("reviews", """
              - backendRefs:
                - {name: reviews-v1, port: 9080, weight: 90}
                - {name: reviews-v2, port: 9080, weight: 10}
            """, hostnames: "[bookinfo.example.com]");
        const string grpc = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: greeter}
            spec:
              parentRefs: [{name: bookinfo-gateway}]
              hostnames: [grpc.example.com]
              rules:
              - matches: [{method: {service: helloworld.Greeter, method: SayHello}}]
                backendRefs: [{name: greeter, port: 50051}]
            """;
        var set = Served(GatewayApiYaml.Services, GatewayApiYaml.BookinfoGateway.Split("---")[0], split, grpc);

        var routes = (RouteConfiguration)Assert.Single(set.Of(XdsTypeUrls.RouteConfiguration)).Value.Message;
        var weighted = routes.VirtualHosts.Single(v => v.Domains.Contains("bookinfo.example.com")).Routes.Single().Route_.WeightedClusters;
        Assert.Equal(["outbound|9080||reviews-v1.default.svc.cluster.local:90", "outbound|9080||reviews-v2.default.svc.cluster.local:10"],
            weighted.Clusters.Select(c => c.Name + ":" + c.Weight));
        var grpcRoute = routes.VirtualHosts.Single(v => v.Domains.Contains("grpc.example.com")).Routes.Single();
        Assert.Equal("/helloworld.Greeter/SayHello", grpcRoute.Match.Path);
        Assert.Equal("outbound|50051||greeter.default.svc.cluster.local", grpcRoute.Route_.Cluster);
    }

    [Fact]
    public void Serve_HttpsListener_TerminatesTlsWithTheSecretsSdsName()
    {
        const string gateway = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: bookinfo-gateway}
            spec:
              gatewayClassName: istio
              listeners:
              - name: https
                hostname: bookinfo.example.com
                port: 443
                protocol: HTTPS
                tls: {certificateRefs: [{name: bookinfo-cert}]}
            """;
        var route = GatewayApiYaml.Route("bookinfo", "  - backendRefs: [{name: productpage, port: 9080}]");
        var set = Served(GatewayApiYaml.Services, gateway, route, GatewayApiYaml.TlsSecret("bookinfo-cert", "bookinfo.example.com"));

        var listener = (Listener)Assert.Single(set.Of(XdsTypeUrls.Listener)).Value.Message;
        Assert.Equal("0.0.0.0_443", listener.Name);
        var chain = Assert.Single(listener.FilterChains);
        var tls = chain.TransportSocket.TypedConfig.Unpack<DownstreamTlsContext>();
        Assert.Equal("kubernetes://bookinfo-cert", Assert.Single(tls.CommonTlsContext.TlsCertificateSdsSecretConfigs).Name);
    }
}
