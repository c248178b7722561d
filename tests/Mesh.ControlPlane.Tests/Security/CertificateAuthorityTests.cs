using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mesh.ControlPlane.Security;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Security;

/// <summary>The CA directory: generated roots, user-supplied roots and intermediates, file permissions, join tokens.</summary>
public sealed class CertificateAuthorityTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mesh-test-ca-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void LoadOrCreate_WorldReadableTokenKeyAndOpenDirectory_WarnsNamingEach()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Unix permissions.
        }

        using (var first = CertificateAuthority.LoadOrCreate(_dir, "cluster.local"))
        {
            _ = first.CreateJoinToken("default", "a");
        }

        var tokenKey = Path.Combine(_dir, "join-token.key");
        File.SetUnixFileMode(tokenKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_111_111);
        var logs = new Mesh.Testing.InMemoryLogSink();

        using var ca = CertificateAuthority.LoadOrCreate(_dir, "cluster.local", logger: logs.CreateLogger("ca"));

        var warnings = logs.MessagesAtLeast(Microsoft.Extensions.Logging.LogLevel.Warning).ToList();
        Assert.Contains(warnings, w => w.Contains(tokenKey, StringComparison.Ordinal) && w.Contains("any identity", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("The CA directory " + _dir, StringComparison.Ordinal) && w.Contains("0700", StringComparison.Ordinal));
    }

    [Fact]
    public void LoadOrCreate_OwnerOnlyFiles_NoPermissionWarnings()
    {
        var logs = new Mesh.Testing.InMemoryLogSink();
        using (var first = CertificateAuthority.LoadOrCreate(_dir, "cluster.local"))
        {
            _ = first.CreateJoinToken("default", "a");
        }

        using var ca = CertificateAuthority.LoadOrCreate(_dir, "cluster.local", logger: logs.CreateLogger("ca"));

        Assert.Empty(logs.MessagesAtLeast(Microsoft.Extensions.Logging.LogLevel.Warning));
    }

    [Fact]
    public void LoadOrCreate_EmptyDirectory_GeneratesARootWhoseKeyFilesOnlyTheOwnerCanRead()
    {
        using var ca = CertificateAuthority.LoadOrCreate(_dir, "cluster.local");
        _ = ca.CreateJoinToken("default", "a");

        Assert.True(File.Exists(Path.Combine(_dir, CertificateAuthority.CertificateFileName)));
        Assert.True(File.Exists(Path.Combine(_dir, CertificateAuthority.RootCertificateFileName)));
        if (!OperatingSystem.IsWindows())
        {
            const UnixFileMode ownerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            Assert.Equal(ownerReadWrite, File.GetUnixFileMode(Path.Combine(_dir, CertificateAuthority.KeyFileName)));
            Assert.Equal(ownerReadWrite, File.GetUnixFileMode(Path.Combine(_dir, "join-token.key")));
            Assert.Equal(ownerReadWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        }

        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
        Assert.Equal(ca.RootCertificate.Thumbprint, ca.SigningCertificate.Thumbprint);
        Assert.Contains("CN=Mesh Root CA", ca.RootCertificate.Subject, StringComparison.Ordinal);
        Assert.Contains("O=cluster.local", ca.RootCertificate.Subject, StringComparison.Ordinal);
        using var publicKey = ca.RootCertificate.GetECDsaPublicKey();
        Assert.Equal(256, publicKey!.KeySize);
    }

    [Fact]
    public void LoadOrCreate_SecondStart_ReusesTheSameRootAndTokenKey()
    {
        string token;
        string thumbprint;
        using (var first = CertificateAuthority.LoadOrCreate(_dir, "cluster.local"))
        {
            token = first.CreateJoinToken("default", "a");
            thumbprint = first.RootCertificate.Thumbprint;
        }

        using var second = CertificateAuthority.LoadOrCreate(_dir, "cluster.local");

        Assert.Equal(thumbprint, second.RootCertificate.Thumbprint);
        Assert.Equal(new SpiffeId("cluster.local", "default", "a"), second.ValidateJoinToken(token, out _));
    }

    [Fact]
    public void ValidateJoinToken_OtherTrustDomain_Refused()
    {
        using (var other = CertificateAuthority.LoadOrCreate(_dir, "other.domain"))
        {
            var token = other.CreateJoinToken("default", "a");
            using var ca = CertificateAuthority.LoadOrCreate(_dir, "cluster.local");

            Assert.Null(ca.ValidateJoinToken(token, out var error));
            Assert.Contains("trust domain 'other.domain'", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Sign_UserSuppliedIntermediate_ChainValidatesToTheUsersRoot()
    {
        var (root, rootKey) = CreateCa("CN=Corp Root", null, null);
        var (intermediate, intermediateKey) = CreateCa("CN=Corp Mesh Intermediate", root, rootKey);
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "ca-cert.pem"), intermediate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "ca-key.pem"), intermediateKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(_dir, "root-cert.pem"), root.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "cert-chain.pem"), intermediate.ExportCertificatePem() + "\n" + root.ExportCertificatePem());

        using var ca = CertificateAuthority.LoadOrCreate(_dir, "cluster.local");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var chain = ca.Sign(CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/a"), new SpiffeId("cluster.local", "default", "a"), TimeSpan.FromHours(1));

        Assert.Equal(3, chain.Count);
        using var leaf = X509Certificate2.CreateFromPem(chain[0]);
        using var sentIntermediate = X509Certificate2.CreateFromPem(chain[1]);
        using var sentRoot = X509Certificate2.CreateFromPem(chain[2]);
        Assert.Equal(intermediate.Thumbprint, sentIntermediate.Thumbprint);
        Assert.Equal(root.Thumbprint, sentRoot.Thumbprint);
        Assert.Equal(root.Thumbprint, ca.RootCertificate.Thumbprint);
        Assert.True(CertificateSigningTests.ChainsTo(leaf, root, sentIntermediate));
        Assert.False(CertificateSigningTests.ChainsTo(leaf, root), "without the intermediate the leaf does not chain: it was signed by the intermediate");
        Assert.Equal(intermediate.Subject, leaf.Issuer);
    }

    [Fact]
    public void Sign_UserSuppliedRsaRoot_IssuesLeavesUnderIt()
    {
        using var rootKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=Corp RSA Root", rootKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "ca-cert.pem"), root.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "ca-key.pem"), rootKey.ExportPkcs8PrivateKeyPem());

        using var ca = CertificateAuthority.LoadOrCreate(_dir, "cluster.local");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var chain = ca.Sign(CertificateSigningTests.Csr(key, "spiffe://cluster.local/ns/default/sa/a"), new SpiffeId("cluster.local", "default", "a"), TimeSpan.Zero);

        Assert.Equal(2, chain.Count);
        using var leaf = X509Certificate2.CreateFromPem(chain[0]);
        Assert.True(CertificateSigningTests.ChainsTo(leaf, root));
    }

    [Fact]
    public void LoadOrCreate_CertificateWithoutKey_FailsNamingTheMissingFile()
    {
        var (root, _) = CreateCa("CN=Corp Root", null, null);
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "ca-cert.pem"), root.ExportCertificatePem());

        var ex = Assert.Throws<InvalidOperationException>(() => CertificateAuthority.LoadOrCreate(_dir, "cluster.local"));

        Assert.Contains("ca-cert.pem but no ca-key.pem", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadOrCreate_IntermediateWithoutRoot_FailsNamingRootCertPem()
    {
        var (root, rootKey) = CreateCa("CN=Corp Root", null, null);
        var (intermediate, intermediateKey) = CreateCa("CN=Corp Mesh Intermediate", root, rootKey);
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "ca-cert.pem"), intermediate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "ca-key.pem"), intermediateKey.ExportPkcs8PrivateKeyPem());

        var ex = Assert.Throws<InvalidOperationException>(() => CertificateAuthority.LoadOrCreate(_dir, "cluster.local"));

        Assert.Contains("root-cert.pem", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadOrCreate_IntermediateFromAnotherRoot_FailsSayingItDoesNotChain()
    {
        var (root, rootKey) = CreateCa("CN=Corp Root", null, null);
        var (otherRoot, _) = CreateCa("CN=Other Root", null, null);
        var (intermediate, intermediateKey) = CreateCa("CN=Corp Mesh Intermediate", root, rootKey);
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "ca-cert.pem"), intermediate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "ca-key.pem"), intermediateKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(_dir, "root-cert.pem"), otherRoot.ExportCertificatePem());

        var ex = Assert.Throws<InvalidOperationException>(() => CertificateAuthority.LoadOrCreate(_dir, "cluster.local"));

        Assert.Contains("does not chain to", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunTokenCommand_CreatesATokenTheCaAccepts()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = ControlPlaneHost.RunTokenCommand(
            ["create", "--namespace", "default", "--service-account", "productpage", "--ttl", "1h", "--ca-dir", _dir], output, error);

        Assert.Equal(0, code);
        using var ca = CertificateAuthority.LoadOrCreate(_dir, "cluster.local");
        Assert.Equal(new SpiffeId("cluster.local", "default", "productpage"), ca.ValidateJoinToken(output.ToString().Trim(), out var reason));
        Assert.Equal(string.Empty, reason);
    }

    [Theory]
    [InlineData(new[] { "create", "--namespace", "default" }, "needs --namespace and --service-account")]
    [InlineData(new[] { "create", "--namespace", "default", "--service-account", "a", "--ttl", "soon" }, "'--ttl soon' is not a positive duration")]
    [InlineData(new[] { "list" }, "the token command is 'token create")]
    [InlineData(new[] { "create", "--namespace", "Bad/Ns", "--service-account", "a" }, "not a valid namespace")]
    public void RunTokenCommand_BadArguments_ExplainsAndReturns2(string[] args, string expected)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        Assert.Equal(2, ControlPlaneHost.RunTokenCommand([.. args, "--ca-dir", _dir], output, error));

        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
        Assert.Equal(string.Empty, output.ToString());
    }

    [Fact]
    public void ParseArguments_CaOptions_AreRead()
    {
        var options = new ControlPlaneOptions();

        var error = ControlPlaneHost.ParseArguments(["--tls-port", "0", "--ca-dir", "/var/lib/mesh-ca", "--trust-domain", "corp.example"], options);

        Assert.Null(error);
        Assert.Equal((0, "/var/lib/mesh-ca", "corp.example"), (options.TlsPort, options.CaDir, options.TrustDomain));
        Assert.Contains("not a valid trust domain", ControlPlaneHost.ParseArguments(["--trust-domain", "Corp"], new ControlPlaneOptions()), StringComparison.Ordinal);
    }

    private static (X509Certificate2 Certificate, ECDsa Key) CreateCa(string subject, X509Certificate2? issuer, ECDsa? issuerKey)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        if (issuer is null)
        {
            return (request.CreateSelfSigned(notBefore, DateTimeOffset.UtcNow.AddYears(5)), key);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        Assert.True(issuer.HasPrivateKey && issuerKey is not null);
        var certificate = request.Create(issuer, notBefore, DateTimeOffset.UtcNow.AddYears(2), RandomNumberGenerator.GetBytes(8));
        return (certificate, key);
    }
}
