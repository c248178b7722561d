using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Istio.V1.Auth;
using Mesh.Client.Security;
using Mesh.ControlPlane.Tests.Kubernetes;
using Mesh.Testing.Kubernetes;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Security;

/// <summary>
/// The CA with projected ServiceAccount tokens as proof of identity, checked with the TokenReview API of a fake API
/// server (which verifies signature, expiry, audience and the bound pod as the real one does): the identity signed is
/// the token's namespace and service account, never the CSR's claim. Join tokens keep working beside them.
/// </summary>
public sealed class ServiceAccountTokenTests : IAsyncLifetime
{
    private FakeKubernetesApiServer _server = null!;
    private FakeServiceAccountTokens _tokens = null!;
    private KubernetesTestControlPlane _cp = null!;
    private (string Name, string Uid) _pod;

    public async Task InitializeAsync()
    {
        _server = await FakeKubernetesApiServer.StartAsync();
        _tokens = FakeServiceAccountTokens.Install(_server);
        var stored = _server.Store.Upsert(KubernetesObjects.Pod("reviews-v1-7d9f8c6b5-x2x7q", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v1" }, "reviews"));
        _pod = ("reviews-v1-7d9f8c6b5-x2x7q", stored["metadata"]!["uid"]!.GetValue<string>());
        _cp = await KubernetesTestControlPlane.StartAsync(_server);
    }

    public async Task DisposeAsync()
    {
        await _cp.DisposeAsync();
        await _server.DisposeAsync();
    }

    private string Token(string serviceAccount = "reviews", string audience = "mesh-ca", TimeSpan? lifetime = null, bool bound = true, DateTimeOffset? issued = null) =>
        _tokens.Issue("default", serviceAccount, audience, lifetime ?? TimeSpan.FromHours(1), bound ? _pod : null, issued);

    [Fact]
    public async Task CreateCertificate_ValidProjectedToken_SignsTheTokensServiceAccount()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var response = await CallAsync(Token(), CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/reviews"));

        using var leaf = X509Certificate2.CreateFromPem(response.CertChain[0]);
        Assert.True(SpiffeId.TryFromCertificate(leaf, out var id));
        Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", id.ToString());
        Assert.True(CertificateSigningTests.ChainsTo(leaf, _cp.CertificateAuthority.RootCertificate));
        Assert.Contains(_tokens.Reviewed, r => r.Authenticated);
    }

    [Fact]
    public async Task CreateCertificate_TokenForReviewsAskingForProductpage_PermissionDenied()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(Token(), CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/productpage")));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("the caller proved spiffe://cluster.local/ns/default/sa/reviews", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_TokenOfAnotherAudience_UnauthenticatedNamingTheAudience()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            CallAsync(Token(audience: "https://kubernetes.default.svc.cluster.local"), CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/reviews")));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("is for audience 'https://kubernetes.default.svc.cluster.local', not 'mesh-ca'", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(_tokens.Reviewed); // refused before asking the API server
    }

    [Fact]
    public async Task CreateCertificate_ExpiredToken_UnauthenticatedSayingSo()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var expired = Token(lifetime: TimeSpan.FromMinutes(10), issued: DateTimeOffset.UtcNow.AddHours(-1));

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(expired, CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/reviews")));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("the ServiceAccount token expired at", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_TokenTheTokenReviewRejects_UnauthenticatedWithTheApiServersReason()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var revoked = Token();
        _tokens.Revoke(revoked);
        var forged = Token()[..^4] + "AAAA";
        var gonePod = _tokens.Issue("default", "reviews", "mesh-ca", TimeSpan.FromHours(1), ("reviews-v1-deleted", Guid.NewGuid().ToString()));

        var first = await Assert.ThrowsAsync<RpcException>(() => CallAsync(revoked, CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/reviews")));
        var second = await Assert.ThrowsAsync<RpcException>(() => CallAsync(forged, CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/reviews")));
        var third = await Assert.ThrowsAsync<RpcException>(() => CallAsync(gonePod, CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/reviews")));

        Assert.All(new[] { first, second, third }, ex => Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode));
        Assert.Contains("the TokenReview rejected the ServiceAccount token: token has been invalidated", first.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("the TokenReview rejected the ServiceAccount token: invalid bearer token", second.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("pod \"reviews-v1-deleted\"", third.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_TokenNotBoundToAPod_Unauthenticated()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(Token(bound: false), CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/reviews")));

        Assert.Contains("not bound to a pod", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_JoinTokenBesideKubernetes_StillWorks()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var response = await CallAsync(_cp.CertificateAuthority.CreateJoinToken("vms", "legacy"), CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/vms/sa/legacy"));

        using var leaf = X509Certificate2.CreateFromPem(response.CertChain[0]);
        Assert.True(SpiffeId.TryFromCertificate(leaf, out var id));
        Assert.Equal("spiffe://cluster.local/ns/vms/sa/legacy", id.ToString());
    }

    [Fact]
    public async Task MeshCaProvider_TokenFileRotated_RenewsWithTheNewToken()
    {
        var directory = Directory.CreateTempSubdirectory("mesh-sa-token-");
        try
        {
            var tokenFile = Path.Combine(directory.FullName, "mesh-token");
            var rootFile = Path.Combine(directory.FullName, "root-cert.pem");
            await File.WriteAllTextAsync(rootFile, _cp.CertificateAuthority.RootCertificatePem);
            var first = Token();
            await File.WriteAllTextAsync(tokenFile, first);
            var bootstrap = $$$"""
                {"xds_servers":[{"server_uri":"{{{_cp.XdsAddress.Authority}}}","channel_creds":[{"type":"insecure"}]}],
                 "node":{"id":"reviews-v1-7d9f8c6b5-x2x7q.default","metadata":{"NAMESPACE":"default"}},
                 "certificate_providers":{"default":{"plugin_name":"mesh_ca","config":{
                   "server_uri":"{{{_cp.TlsAddress.GetLeftPart(UriPartial.Authority)}}}","ca_certificate_file":"{{{rootFile}}}",
                   "token_file":"{{{tokenFile}}}","namespace":"default","service_account":"reviews","certificate_lifetime":"4s"} } } }
                """;
            var services = new ServiceCollection().AddLogging();
            services.AddMesh(o => o.BootstrapJson = bootstrap);
            await using var provider = services.BuildServiceProvider();
            var certificates = provider.GetRequiredService<CertificateProviderStore>().Get("default")!;

            var issued = await certificates.WaitForCertificateAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", issued.Identity!.ToString());

            // The kubelet rotates the token; the old one stops working (as when its pod binding is gone).
            var second = Token();
            await File.WriteAllTextAsync(tokenFile, second);
            _tokens.Revoke(first);
            await Eventually.TrueAsync(
                () => certificates.Current is { } current && current.Certificate.SerialNumber != issued.Certificate.SerialNumber
                    && _tokens.Reviewed.Any(r => r.Token == second && r.Authenticated),
                "a renewal proven with the rotated token", TimeSpan.FromSeconds(20));
            Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", certificates.Current!.Identity!.ToString());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private async Task<IstioCertificateResponse> CallAsync(string token, string csr)
    {
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is not null && CertificateSigningTests.ChainsTo(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()), _cp.CertificateAuthority.RootCertificate);
        using var channel = GrpcChannel.ForAddress(_cp.TlsAddress, new GrpcChannelOptions { HttpHandler = handler });
        var client = new IstioCertificateService.IstioCertificateServiceClient(channel);
        return await client.CreateCertificateAsync(new IstioCertificateRequest { Csr = csr }, new Metadata { { "authorization", "Bearer " + token } });
    }
}
