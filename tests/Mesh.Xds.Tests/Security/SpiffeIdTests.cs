using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Xds.Tests.Security;

public class SpiffeIdTests
{
    [Fact]
    public void Parse_IstioForm_ReadsEveryPartAndRoundTrips()
    {
        var id = SpiffeId.Parse("spiffe://cluster.local/ns/default/sa/productpage");

        Assert.Equal(("cluster.local", "default", "productpage"), (id.TrustDomain, id.Namespace, id.ServiceAccount));
        Assert.Equal("spiffe://cluster.local/ns/default/sa/productpage", id.ToString());
        Assert.Equal(new SpiffeId("cluster.local", "default", "productpage"), id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("https://cluster.local/ns/default/sa/a")]
    [InlineData("SPIFFE://cluster.local/ns/default/sa/a")]
    [InlineData("spiffe://Cluster.local/ns/default/sa/a")]
    [InlineData("spiffe://cluster.local:8080/ns/default/sa/a")]
    [InlineData("spiffe://user@cluster.local/ns/default/sa/a")]
    [InlineData("spiffe:///ns/default/sa/a")]
    [InlineData("spiffe://cluster.local")]
    [InlineData("spiffe://cluster.local/")]
    [InlineData("spiffe://cluster.local/ns/default/sa/a/")]
    [InlineData("spiffe://cluster.local/ns//sa/a")]
    [InlineData("spiffe://cluster.local/ns/../sa/a")]
    [InlineData("spiffe://cluster.local/ns/default/sa/a?x=1")]
    [InlineData("spiffe://cluster.local/ns/default/sa/a#f")]
    [InlineData("spiffe://cluster.local/ns/default/sa/a%20b")]
    [InlineData("spiffe://cluster.local/ns/default/sa/a/extra")]
    [InlineData("spiffe://cluster.local/namespace/default/sa/a")]
    public void TryParse_InvalidId_ReturnsFalseAndParseThrows(string text)
    {
        Assert.False(SpiffeId.TryParse(text, out _));
        Assert.Throws<FormatException>(() => SpiffeId.Parse(text));
    }

    [Fact]
    public void Constructor_InvalidPart_Throws()
    {
        Assert.Throws<ArgumentException>(() => new SpiffeId("cluster.local", "de/fault", "a"));
        Assert.Throws<ArgumentException>(() => new SpiffeId("CLUSTER", "default", "a"));
        Assert.Throws<ArgumentException>(() => new SpiffeId("cluster.local", "default", ".."));
    }

    [Fact]
    public void TryFromCertificate_OneSpiffeUriAmongOtherNames_ReturnsIt()
    {
        using var certificate = SelfSigned(names =>
        {
            names.AddDnsName("reviews.default.svc");
            names.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/reviews"));
            names.AddIpAddress(System.Net.IPAddress.Loopback);
        });

        Assert.True(SpiffeId.TryFromCertificate(certificate, out var id));
        Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", id.ToString());
    }

    [Fact]
    public void TryFromCertificate_NoUriOrTwoUris_ReturnsFalse()
    {
        using var none = SelfSigned(names => names.AddDnsName("localhost"));
        using var two = SelfSigned(names =>
        {
            names.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/a"));
            names.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/b"));
        });
        using var other = SelfSigned(names => names.AddUri(new Uri("https://example.com/ns/default/sa/a")));

        Assert.False(SpiffeId.TryFromCertificate(none, out _));
        Assert.False(SpiffeId.TryFromCertificate(two, out _));
        Assert.False(SpiffeId.TryFromCertificate(other, out _));
    }

    private static X509Certificate2 SelfSigned(Action<SubjectAlternativeNameBuilder> addNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        addNames(names);
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
    }
}
