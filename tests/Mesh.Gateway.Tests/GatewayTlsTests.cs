using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Gateway.Tests;

/// <summary>HTTPS servers of a Gateway with certificates from files: SIMPLE, MUTUAL, httpsRedirect and bad files.</summary>
public sealed class GatewayTlsTests
{
    private static string Gateway(string tls) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: secure, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8443, name: https, protocol: HTTPS}
            hosts: ["*"]
            tls: {{{tls}}}
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
            tls: {httpsRedirect: true}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: productpage, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [secure]
          http:
          - route:
            - destination: {host: productpage, port: {number: 9080}}
        """;

    private static async Task<(GatewayMesh Mesh, X509Certificate2 Ca)> StartAsync(Func<GatewayMesh, X509Certificate2, string> tls)
    {
        var mesh = new GatewayMesh();
        var ca = TestCertificates.CreateCa("gateway test CA");
        var productpage = await mesh.StartBackendAsync("productpage");
        await mesh.StartControlPlaneAsync(new()
        {
            ["services.yaml"] = GatewayMesh.ServiceEntry("productpage", "HTTP", (productpage, "v1")),
            ["gateway.yaml"] = Gateway(tls(mesh, ca)),
        });
        await mesh.StartGatewayAsync(8443, 8080);
        return (mesh, ca);
    }

    private static string Simple(GatewayMesh mesh, X509Certificate2 ca)
    {
        using var server = TestCertificates.Issue(ca, "gateway", server: true);
        var (certificate, key) = TestCertificates.WritePem(server, mesh.Directory, "server");
        return $"{{mode: SIMPLE, serverCertificate: {certificate}, privateKey: {key}}}";
    }

    [Fact]
    public async Task Gateway_HttpsSimpleWithCertificateFromFile_ServesOverTls()
    {
        var (mesh, ca) = await StartAsync(Simple);
        await using var _ = mesh;
        using var client = TestCertificates.ClientTrusting(ca);

        var page = await GatewayMesh.WaitForStatusAsync(client, mesh.Url(8443, "/productpage", "https"));

        Assert.StartsWith("productpage /productpage", page, StringComparison.Ordinal);
        using var http2 = new HttpRequestMessage(HttpMethod.Get, mesh.Url(8443, "/productpage", "https")) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await client.SendAsync(http2);
        Assert.Equal((HttpStatusCode.OK, HttpVersion.Version20), (response.StatusCode, response.Version)); // h2 by ALPN
    }

    [Fact]
    public async Task Gateway_HttpsRedirect_PlaintextAnsweredWith301ToHttps()
    {
        var (mesh, ca) = await StartAsync(Simple);
        await using var _ = mesh;
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(20) };

        await GatewayMesh.WaitForStatusAsync(client, mesh.Url(8080, "/productpage?x=1"), HttpStatusCode.MovedPermanently);
        using var request = new HttpRequestMessage(HttpMethod.Get, mesh.Url(8080, "/productpage?x=1"));
        request.Headers.Host = "bookinfo.example.com:8080";
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.MovedPermanently, response.StatusCode);
        Assert.Equal("https://bookinfo.example.com/productpage?x=1", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Gateway_HttpsMutual_ClientCertificateVerifiedAgainstTheCa()
    {
        var (mesh, ca) = await StartAsync((mesh, ca) =>
        {
            using var server = TestCertificates.Issue(ca, "gateway", server: true);
            var (certificate, key) = TestCertificates.WritePem(server, mesh.Directory, "server");
            var root = TestCertificates.WriteCaPem(ca, mesh.Directory, "ca");
            return $"{{mode: MUTUAL, serverCertificate: {certificate}, privateKey: {key}, caCertificates: {root}}}";
        });
        await using var _ = mesh;
        using var clientCertificate = TestCertificates.Issue(ca, "client", server: false);
        using var trusted = TestCertificates.ClientTrusting(ca, clientCertificate);

        var page = await GatewayMesh.WaitForStatusAsync(trusted, mesh.Url(8443, "/productpage", "https"));
        Assert.StartsWith("productpage /productpage", page, StringComparison.Ordinal);

        using var anonymous = TestCertificates.ClientTrusting(ca);
        await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetAsync(mesh.Url(8443, "/productpage", "https")));

        using var otherCa = TestCertificates.CreateCa("someone else's CA");
        using var stranger = TestCertificates.Issue(otherCa, "stranger", server: false);
        using var strangerClient = TestCertificates.ClientTrusting(ca, stranger);
        await Assert.ThrowsAsync<HttpRequestException>(() => strangerClient.GetAsync(mesh.Url(8443, "/productpage", "https")));
        Assert.Contains(mesh.GatewayLogs.Entries, e => e.Message.Contains("does not chain to the server's caCertificates", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Gateway_TlsFileThatDoesNotParse_ErrorLoggedAndLastGoodCertificateServes()
    {
        var (mesh, ca) = await StartAsync(Simple);
        await using var _ = mesh;
        using var client = TestCertificates.ClientTrusting(ca);
        await GatewayMesh.WaitForStatusAsync(client, mesh.Url(8443, "/productpage", "https"));

        // A new Gateway naming a certificate file that is not PEM: rejected by the gateway, the last good listener serves.
        var garbage = Path.Combine(mesh.Directory, "broken.pem");
        await File.WriteAllTextAsync(garbage, "this is not a certificate");
        await mesh.ControlPlane!.WriteFileAsync("gateway.yaml", Gateway($"{{mode: SIMPLE, serverCertificate: {garbage}, privateKey: {garbage}}}"));
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline && !Rejected(mesh); await Task.Delay(100))
        {
        }

        Assert.True(Rejected(mesh), string.Join("\n", mesh.GatewayLogs.Entries.Select(e => e.Message)));
        using (var response = await client.GetAsync(mesh.Url(8443, "/productpage", "https")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The served certificate's own file replaced by one that does not parse: the loaded certificate keeps serving.
        await File.WriteAllTextAsync(Path.Combine(mesh.Directory, "server.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        await Task.Delay(1200); // past the gateway's file check interval
        using (var again = await client.GetAsync(mesh.Url(8443, "/productpage", "https")))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        static bool Rejected(GatewayMesh mesh) => mesh.GatewayLogs.Entries.Any(e => e.Message.Contains("rejected, the last good one keeps serving", StringComparison.Ordinal) && e.Message.Contains("broken.pem", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Gateway_ConflictingListener_ControlPlaneRejectsAndLastGoodConfigServes()
    {
        var (mesh, ca) = await StartAsync(Simple);
        await using var _ = mesh;
        using var client = TestCertificates.ClientTrusting(ca);
        await GatewayMesh.WaitForStatusAsync(client, mesh.Url(8443, "/productpage", "https"));

        await mesh.ControlPlane!.WriteFileAsync("conflict.yaml", """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: clash, namespace: default}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 8443, name: plain, protocol: HTTP}
                hosts: ["*"]
            """);
        string? error = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline && error is null; await Task.Delay(100))
        {
            var configz = (await mesh.ControlPlane.GetJsonAsync("/debug/configz")).ToJsonString();
            error = configz.Contains("conflicting listener", StringComparison.Ordinal) ? configz : null;
        }

        Assert.NotNull(error);
        Assert.Contains("Gateway default/clash", error, StringComparison.Ordinal);
        using var response = await client.GetAsync(mesh.Url(8443, "/productpage", "https"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
