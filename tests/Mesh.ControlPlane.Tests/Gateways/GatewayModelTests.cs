using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Gateways;

public class GatewayModelTests
{
    [Fact]
    public void Build_BookinfoGateway_GatewayAndBoundVirtualServiceModelled()
    {
        var snapshot = GatewayTestConfig.Snapshot(GatewayTestConfig.BookinfoGateway);

        var gateway = Assert.Single(snapshot.Gateways);
        Assert.Equal("default/bookinfo-gateway", gateway.Key);
        Assert.Equal("ingressgateway", gateway.Selector["istio"]);
        var server = Assert.Single(gateway.Servers);
        Assert.Equal((8080, "HTTP", "http"), (server.Port, server.Protocol, server.PortName));
        Assert.Equal(new GatewayHost("*", "*"), Assert.Single(server.Hosts));
        var bound = Assert.Single(snapshot.GatewayRoutes);
        Assert.Equal(("bookinfo", "default/bookinfo-gateway"), (bound.Name, Assert.Single(bound.Gateways)));
        Assert.Equal(5, Assert.Single(bound.Rules).Matches.Length);
        Assert.DoesNotContain(snapshot.NotApplied, n => n.Resource == "VirtualService default/bookinfo");
        Assert.False(snapshot.Routes.ContainsKey("*")); // gateway hosts are not mesh route tables
    }

    [Fact]
    public void Build_HttpsMutualAndRedirect_TlsModelled()
    {
        var snapshot = GatewayTestConfig.Snapshot(GatewayTestConfig.HttpsGateway);

        var servers = Assert.Single(snapshot.Gateways).Servers;
        Assert.Equal(GatewayTlsMode.Mutual, servers[0].Tls!.Mode);
        Assert.Equal(("/etc/certs/server.pem", "/etc/certs/server.key", "/etc/certs/ca.pem"), (servers[0].Tls!.ServerCertificate, servers[0].Tls!.PrivateKey, servers[0].Tls!.CaCertificates));
        Assert.True(servers[1].Tls!.HttpsRedirect);
        Assert.Equal(GatewayTlsMode.None, servers[1].Tls!.Mode);
    }

    [Fact]
    public void Build_HostNamespacePrefixes_ReadAsIstioDoes()
    {
        var snapshot = GatewayTestConfig.Snapshot("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: edge}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["./a.example.com", "shop/b.example.com", "*/c.example.com", "d.example.com"]
            """);

        Assert.Equal(
            [new GatewayHost("edge", "a.example.com"), new GatewayHost("shop", "b.example.com"), new GatewayHost("*", "c.example.com"), new GatewayHost("*", "d.example.com")],
            Assert.Single(Assert.Single(snapshot.Gateways).Servers).Hosts.ToArray());
    }

    [Fact]
    public void Build_ConflictingListener_ErrorNamesBothServers()
    {
        var result = GatewayTestConfig.Build(GatewayTestConfig.BookinfoGateway, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: other}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8080, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}
            """);

        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.Equal(("Gateway default/other", "spec.servers[0].port"), (error.Resource, error.Field));
        Assert.Contains("conflicting listener: port 8080 is HTTPS here but HTTP in Gateway default/bookinfo-gateway", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SamePortOnDisjointSelectors_NoConflict()
    {
        var result = GatewayTestConfig.Build(GatewayTestConfig.BookinfoGateway, """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: other}
            spec:
              selector: {istio: egressgateway}
              servers:
              - port: {number: 8080, name: https, protocol: HTTPS}
                hosts: ["*"]
                tls: {mode: SIMPLE, credentialName: egress-cert}
            """);

        Assert.Empty(result.Errors);
    }

    [Theory]
    [InlineData("tls: {mode: PASSTHROUGH}", "spec.servers[0].tls.mode", "'PASSTHROUGH' is not supported")]
    [InlineData("tls: {mode: ISTIO_MUTUAL}", "spec.servers[0].tls.mode", "'ISTIO_MUTUAL' is not supported")]
    [InlineData("tls: {mode: SIMPLE}", "spec.servers[0].tls", "needs credentialName, or serverCertificate and privateKey")]
    [InlineData("tls: {mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem}", "spec.servers[0].tls.caCertificates", "is required with MUTUAL")]
    [InlineData("tls: {mode: SIMPLE, credentialName: c, serverCertificate: /c.pem, privateKey: /k.pem}", "spec.servers[0].tls.credentialName", "not both")]
    [InlineData("tls: {mode: SIMPLE, credentialName: c, subjectAltNames: [a]}", "spec.servers[0].tls.subjectAltNames", "refused rather than ignored")]
    [InlineData("tls: {mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_3}", "spec.servers[0].tls.minProtocolVersion", "is not supported")]
    [InlineData("{}", "spec.servers[0].tls", "is required on an HTTPS server")]
    public void Build_UnsupportedOrIncompleteHttpsTls_RejectedNamingTheField(string tls, string field, string message)
    {
        var result = GatewayTestConfig.Build($$"""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8443, name: https, protocol: HTTPS}
                hosts: ["*"]
                {{(tls == "{}" ? "name: no-tls" : tls)}}
            """);

        Assert.Null(result.Snapshot);
        Assert.Contains(result.Errors, e => e.Resource == "Gateway default/gw" && e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("port: {number: 9000, name: tcp, protocol: TCP}\n    hosts: [\"*\"]", "spec.servers[0].port.protocol")]
    [InlineData("port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: c}", "spec.servers[0].tls")]
    [InlineData("port: {number: 8080, name: http, protocol: HTTP}\n    hosts: []", "spec.servers[0].hosts")]
    [InlineData("port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"not a host\"]", "spec.servers[0].hosts[0]")]
    [InlineData("port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n    bind: 10.0.0.1", "spec.servers[0].bind")]
    public void Build_BadServer_RejectedNamingTheField(string server, string field)
    {
        var result = GatewayTestConfig.Build($$"""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - {{server}}
            """);

        Assert.Null(result.Snapshot);
        Assert.Contains(result.Errors, e => e.Resource == "Gateway default/gw" && e.Field == field);
    }

    [Fact]
    public void Build_GatewayWithoutSelector_Rejected()
    {
        var result = GatewayTestConfig.Build("""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              servers:
              - port: {number: 8080, name: http, protocol: HTTP}
                hosts: ["*"]
            """);

        Assert.Contains(result.Errors, e => e.Field == "spec.selector");
    }

    [Fact]
    public void Build_VirtualServiceNamingUnknownGateway_ReferenceError()
    {
        var result = GatewayTestConfig.Build("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: front}
            spec:
              hosts: ["*"]
              gateways: [nowhere]
              http:
              - route:
                - destination: {host: productpage}
            """);

        var error = Assert.Single(result.Errors);
        Assert.Equal(("VirtualService default/front", "spec.gateways[0]"), (error.Resource, error.Field));
        Assert.Contains("unknown gateway 'nowhere'", error.Message, StringComparison.Ordinal);
        Assert.Contains("IST0101", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_GatewayAndMeshVirtualService_BothApplied()
    {
        var snapshot = GatewayTestConfig.Snapshot(GatewayTestConfig.BookinfoGateway.Replace("hosts: [\"*\"]\n  gateways: [bookinfo-gateway]", "hosts: [\"*\"]\n  gateways: [bookinfo-gateway]", StringComparison.Ordinal), """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews-both}
            spec:
              hosts: [reviews]
              gateways: [mesh, bookinfo-gateway]
              http:
              - route:
                - destination: {host: reviews, subset: v2}
            """);

        Assert.True(snapshot.Routes.ContainsKey("reviews.default.svc.cluster.local"));
        Assert.Contains(snapshot.GatewayRoutes, g => g.Name == "reviews-both");
    }
}
