using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Bootstrap;
using Mesh.Client.Xds;

namespace Mesh.Client.Tests.Xds;

/// <summary>Per-server channel_creds: TLS to the control plane trusts the configured roots only.</summary>
public sealed class XdsChannelCredentialsTests
{
    private static X509Certificate2 Root(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Leaf(X509Certificate2 issuer)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=istiod.mesh", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        return request.Create(issuer, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12), serial);
    }

    [Fact]
    public void Validate_ServerChainingToTheConfiguredRoot_IsAccepted_OtherwiseRefused()
    {
        using var meshRoot = Root("mesh root");
        using var otherRoot = Root("other root");
        using var server = Leaf(meshRoot);

        Assert.True(XdsChannelCredentials.Validate([meshRoot], server, null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(XdsChannelCredentials.Validate([otherRoot], server, null, SslPolicyErrors.None));
        Assert.False(XdsChannelCredentials.Validate([meshRoot], server, null, SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(XdsChannelCredentials.Validate([meshRoot], null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
    }

    [Fact]
    public void Apply_TlsWithCaFile_SetsACallbackThatTrustsOnlyThatRoot()
    {
        using var meshRoot = Root("mesh root");
        var file = Path.Combine(Path.GetTempPath(), $"mesh-root-{Guid.NewGuid():N}.pem");
        File.WriteAllText(file, meshRoot.ExportCertificatePem());
        try
        {
            var bootstrap = XdsBootstrap.Parse($$$"""{"xds_servers": [{"server_uri": "cp:15012", "channel_creds": [{"type": "tls", "config": {"ca_certificate_file": {{{System.Text.Json.JsonSerializer.Serialize(file)}}}}}]}], "node": {"id": "n"}}""", "test");
            using var handler = new SocketsHttpHandler();

            XdsChannelCredentials.Apply(bootstrap.XdsServers[0], handler);

            using var server = Leaf(meshRoot);
            using var otherRoot = Root("other");
            using var stranger = Leaf(otherRoot);
            Assert.NotNull(handler.SslOptions.RemoteCertificateValidationCallback);
            Assert.True(handler.SslOptions.RemoteCertificateValidationCallback!(this, server, null, SslPolicyErrors.RemoteCertificateChainErrors));
            Assert.False(handler.SslOptions.RemoteCertificateValidationCallback!(this, stranger, null, SslPolicyErrors.None));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Apply_UnreadableCaFile_FailsNamingTheServer()
    {
        var bootstrap = XdsBootstrap.Parse("""{"xds_servers": [{"server_uri": "cp:15012", "channel_creds": [{"type": "tls", "config": {"ca_certificate_file": "/nonexistent/root.pem"}}]}], "node": {"id": "n"}}""", "test");
        using var handler = new SocketsHttpHandler();

        var error = Assert.Throws<XdsBootstrapException>(() => XdsChannelCredentials.Apply(bootstrap.XdsServers[0], handler));

        Assert.Contains("cp:15012", error.Message, StringComparison.Ordinal);
    }
}
