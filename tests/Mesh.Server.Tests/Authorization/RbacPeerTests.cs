using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Envoy.Config.Rbac.V3;
using Envoy.Type.Matcher.V3;
using Mesh.Server.Authorization;
using static Mesh.Server.Tests.Authorization.RbacTestRequests;

namespace Mesh.Server.Tests.Authorization;

public class RbacPeerTests
{
    private static X509Certificate2 Certificate(string subject, string[] uris, string[] dnsNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        if (uris.Length + dnsNames.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var uri in uris)
            {
                san.AddUri(new Uri(uri));
            }

            foreach (var dns in dnsNames)
            {
                san.AddDnsName(dns);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-1), now.AddHours(1));
    }

    [Fact]
    public void FromCertificate_SpiffeCertificate_ReadsUriAndDnsSans()
    {
        using var cert = Certificate("CN=productpage", ["spiffe://cluster.local/ns/default/sa/productpage"], ["productpage.default.svc"]);

        var peer = RbacPeer.FromCertificate(cert);

        Assert.True(peer.IsTls);
        Assert.True(peer.HasCertificate);
        Assert.Equal(["spiffe://cluster.local/ns/default/sa/productpage"], peer.UriSans);
        Assert.Equal(["productpage.default.svc"], peer.DnsSans);
    }

    [Fact]
    public void FromCertificate_Subject_IsFormattedAsRfc2253()
    {
        using var cert = Certificate("CN=\"reviews, v2\", OU=bookinfo, O=mesh", [], []);

        var peer = RbacPeer.FromCertificate(cert);

        Assert.Equal("CN=reviews\\, v2,OU=bookinfo,O=mesh", peer.Subject);
        Assert.Empty(peer.UriSans);
        Assert.Empty(peer.DnsSans);
    }

    [Fact]
    public void FromCertificate_NoCertificate_IsTlsWithoutIdentity()
    {
        var peer = RbacPeer.FromCertificate(null);

        Assert.True(peer.IsTls);
        Assert.False(peer.HasCertificate);
    }

    [Fact]
    public void Evaluate_CertificatePeer_MatchesItsSpiffeId()
    {
        using var cert = Certificate("CN=productpage", ["spiffe://cluster.local/ns/default/sa/productpage"], []);
        var peer = RbacPeer.FromCertificate(cert);
        var principal = new Principal
        {
            Authenticated = new Principal.Types.Authenticated { PrincipalName = new StringMatcher { Prefix = "spiffe://cluster.local/ns/default/" } },
        };

        Assert.True(PrincipalMatches(principal, Request(peer: peer)));
        Assert.False(PrincipalMatches(principal, Request(peer: RbacPeer.Create(["spiffe://cluster.local/ns/other/sa/x"], [], "CN=x"))));
    }

    [Fact]
    public void DisplayName_PrefersTheSpiffeIdAndNamesPeersWithoutOne()
    {
        Assert.Equal("spiffe://a/ns/b/sa/c", RbacPeer.Create(["spiffe://a/ns/b/sa/c"], ["dns"], "CN=x").DisplayName);
        Assert.Equal("dns", RbacPeer.Create([], ["dns"], "CN=x").DisplayName);
        Assert.Equal("CN=x", RbacPeer.Create([], [], "CN=x").DisplayName);
        Assert.Equal("plaintext", RbacPeer.Plaintext.DisplayName);
        Assert.Equal("tls-without-certificate", RbacPeer.TlsWithoutCertificate.DisplayName);
    }
}
