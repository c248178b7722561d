using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Bootstrap;
using Mesh.Client.Security;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Security;

/// <summary>The <c>mesh_ca</c> provider against a real control plane's CA over loopback TLS.</summary>
public sealed class MeshCaCertificateProviderTests : IAsyncLifetime
{
    private TestControlPlane _cp = null!;

    public async Task InitializeAsync() => _cp = await TestControlPlane.StartAsync(new Dictionary<string, string>());

    public async Task DisposeAsync() => await _cp.DisposeAsync();

    [Fact]
    public async Task Get_MeshCaProvider_ObtainsACertificateForTheTokensIdentity()
    {
        var bootstrap = SecurityTestSupport.MeshCaBootstrap(_cp, SecurityTestSupport.WriteRoot(_cp), _cp.CreateToken("default", "productpage"));
        await using var services = SecurityTestSupport.Services(bootstrap);
        var store = services.GetRequiredService<CertificateProviderStore>();

        var provider = store.Get("default");
        var certificate = await SecurityTestSupport.FirstCertificateAsync(provider!);

        Assert.Equal("mesh_ca", provider!.PluginName);
        Assert.Same(provider, store.Get("default"));
        Assert.Same(certificate, provider.Current);
        Assert.Null(provider.LastError);
        Assert.Equal(new SpiffeId("cluster.local", "default", "productpage"), certificate.Identity);
        Assert.True(certificate.Certificate.HasPrivateKey);
        Assert.Empty(certificate.Intermediates);
        Assert.Equal(_cp.CertificateAuthority.RootCertificate.Thumbprint, Assert.Single(certificate.TrustedRoots).Thumbprint);
        Assert.InRange(certificate.NotAfter - DateTimeOffset.UtcNow, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
        Assert.Equal(certificate.Certificate.NotAfter.ToUniversalTime(), certificate.NotAfter.UtcDateTime);
    }

    [Fact]
    public async Task Provider_ShortLifetime_RenewsBeforeExpiryAndRaisesChanged()
    {
        var bootstrap = SecurityTestSupport.MeshCaBootstrap(
            _cp, SecurityTestSupport.WriteRoot(_cp), _cp.CreateToken("default", "reviews"), ""","certificate_lifetime": "3s" """);
        await using var services = SecurityTestSupport.Services(bootstrap);
        var provider = services.GetRequiredService<CertificateProviderStore>().Get("default")!;
        var changes = System.Threading.Channels.Channel.CreateUnbounded<(WorkloadCertificate Certificate, DateTimeOffset At)>();
        provider.Changed += c => changes.Writer.TryWrite((c, DateTimeOffset.UtcNow));

        var first = await SecurityTestSupport.FirstCertificateAsync(provider);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<(WorkloadCertificate Certificate, DateTimeOffset At)>();
        while (seen.Count < 3)
        {
            seen.Add(await changes.Reader.ReadAsync(timeout.Token));
        }

        Assert.Same(first, seen[0].Certificate);
        Assert.InRange(first.NotAfter - seen[0].At, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3));
        for (var i = 1; i < seen.Count; i++)
        {
            var (previous, current) = (seen[i - 1].Certificate, seen[i].Certificate);
            Assert.NotEqual(previous.Certificate.SerialNumber, current.Certificate.SerialNumber);
            Assert.True(current.NotAfter > previous.NotAfter, "each renewal expires later");
            Assert.True(seen[i].At < previous.NotAfter, "renewed before the previous certificate expired");
            Assert.True(seen[i].At - seen[i - 1].At >= TimeSpan.FromSeconds(0.5), "not renewed at once: about half of the lifetime later");
            Assert.Equal(new SpiffeId("cluster.local", "default", "reviews"), current.Identity);
            Assert.NotEqual(previous.Certificate.PublicKey.EncodedKeyValue.RawData, current.Certificate.PublicKey.EncodedKeyValue.RawData);
        }

        Assert.Same(seen[^1].Certificate, provider.Current);
    }

    [Fact]
    public async Task Provider_ConfigIdentityDiffersFromToken_ReportsPermissionDeniedAndHasNoCertificate()
    {
        var bootstrap = SecurityTestSupport.MeshCaBootstrap(
            _cp, SecurityTestSupport.WriteRoot(_cp), _cp.CreateToken("default", "a"), ""","namespace": "default", "service_account": "b" """);
        var logs = new InMemoryLogSink();
        await using var services = SecurityTestSupport.Services(bootstrap, logs);
        var provider = services.GetRequiredService<CertificateProviderStore>().Get("default")!;

        // The provider records the error, then logs it: wait for both.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((provider.LastError is null || !logs.MessagesAtLeast(LogLevel.Error).Any(m => m.Contains("Obtaining a certificate from", StringComparison.Ordinal)))
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var error = Assert.IsType<Grpc.Core.RpcException>(provider.LastError);
        Assert.Equal(Grpc.Core.StatusCode.PermissionDenied, error.StatusCode);
        Assert.Null(provider.Current);
        Assert.Contains(logs.MessagesAtLeast(LogLevel.Error), m => m.Contains("Obtaining a certificate from", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Provider_UntrustedCaServer_RefusesToSendTheToken()
    {
        var otherRoot = Path.Combine(_cp.CaDirectory, "other-root.pem");
        using (var root = SecurityTestSupport.CreateRoot("CN=Not The Mesh"))
        {
            await File.WriteAllTextAsync(otherRoot, root.ExportCertificatePem());
        }

        var bootstrap = SecurityTestSupport.MeshCaBootstrap(_cp, otherRoot, _cp.CreateToken("default", "a"));
        await using var services = SecurityTestSupport.Services(bootstrap);
        var provider = services.GetRequiredService<CertificateProviderStore>().Get("default")!;

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (provider.LastError is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.NotNull(provider.LastError);
        Assert.Null(provider.Current);
        Assert.DoesNotContain(_cp.Logs.MessagesAtLeast(LogLevel.Information), m => m.Contains("Issued a certificate", StringComparison.Ordinal));
    }

    [Fact]
    public void Get_UnknownInstanceOrUnsupportedPlugin_ReturnsNull()
    {
        var bootstrap = """
            {
              "xds_servers": [{"server_uri": "127.0.0.1:1", "channel_creds": [{"type": "insecure"}]}],
              "certificate_providers": {"gcp": {"plugin_name": "google_cloud_private_spiffe", "config": {"anything": 1}}}
            }
            """;
        using var services = SecurityTestSupport.Services(bootstrap);
        var store = services.GetRequiredService<CertificateProviderStore>();

        Assert.Null(store.Get("default"));
        Assert.Null(store.Get("gcp"));
    }

    [Theory]
    [InlineData("""{"ca_certificate_file": "/r.pem", "token": "x.y"}""", "certificate_providers.default.config.server_uri is required")]
    [InlineData("""{"server_uri": "http://127.0.0.1:15012", "ca_certificate_file": "/r.pem", "token": "x.y", "namespace": "a", "service_account": "b"}""", "certificate_providers.default.config.server_uri 'http://127.0.0.1:15012' must be an https:// address")]
    [InlineData("""{"server_uri": "https://127.0.0.1:15012", "token": "x.y", "namespace": "a", "service_account": "b"}""", "certificate_providers.default.config.ca_certificate_file is required")]
    [InlineData("""{"server_uri": "https://127.0.0.1:15012", "ca_certificate_file": "/r.pem"}""", "certificate_providers.default.config.token exactly one of token and token_file must be set")]
    [InlineData("""{"server_uri": "https://127.0.0.1:15012", "ca_certificate_file": "/r.pem", "token_file": "/t", "certificate_lifetime": "soon"}""", "certificate_providers.default.config.certificate_lifetime 'soon' is not a duration")]
    [InlineData("""{"server_uri": "https://127.0.0.1:15012", "ca_certificate_file": "/r.pem", "token_file": "/t", "key_type": "DSA"}""", "certificate_providers.default.config.key_type 'DSA' is not supported")]
    [InlineData("""{"server_uri": "https://127.0.0.1:15012", "ca_certificate_file": "/r.pem", "token": "opaque"}""", "certificate_providers.default.config.token is not a Mesh join token")]
    public void AddMesh_BadMeshCaConfig_FailsStartUpNamingTheField(string config, string expected)
    {
        var bootstrap = $$$"""
            {
              "xds_servers": [{"server_uri": "127.0.0.1:1", "channel_creds": [{"type": "insecure"}]}],
              "certificate_providers": {"default": {"plugin_name": "mesh_ca", "config": {{{config}}}}}
            }
            """;
        using var services = SecurityTestSupport.Services(bootstrap);

        var parse = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Parse(bootstrap, "test"));
        var startUp = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<MeshClientOptions>>().Value);

        Assert.Contains(parse.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
        Assert.Contains(expected, startUp.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"certificate_file": "/c.pem"}""", "certificate_providers.default.config.private_key_file is required")]
    [InlineData("""{"ca_certificate_file": "/ca.pem"}""", "certificate_providers.default.config.certificate_file is required")]
    [InlineData("""{"certificate_file": "/c.pem", "private_key_file": "/k.pem", "refresh_interval": "10 minutes"}""", "certificate_providers.default.config.refresh_interval '10 minutes' is not a duration")]
    [InlineData("""[]""", "certificate_providers.default.config must be an object")]
    public void Parse_BadFileWatcherConfig_NamesTheField(string config, string expected)
    {
        var bootstrap = $$$"""
            {
              "xds_servers": [{"server_uri": "127.0.0.1:1", "channel_creds": [{"type": "insecure"}]}],
              "certificate_providers": {"default": {"plugin_name": "file_watcher", "config": {{{config}}}}}
            }
            """;

        var ex = Assert.Throws<XdsBootstrapException>(() => XdsBootstrap.Parse(bootstrap, "test"));

        Assert.Contains(ex.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("600s", 600_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("24h", 86_400_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("250ms", 250)]
    public void DurationText_TryParse_ReadsProtobufAndUnitForms(string text, long milliseconds)
    {
        Assert.True(DurationText.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Fact]
    public void RenewalDelay_IsHalfTheRemainingLifetimeWithinTenPercent()
    {
        var now = DateTimeOffset.UnixEpoch;
        var notAfter = now.AddSeconds(20);

        Assert.Equal(TimeSpan.FromSeconds(9), MeshCaCertificateProvider.RenewalDelay(now, notAfter, 0));
        Assert.Equal(TimeSpan.FromSeconds(10), MeshCaCertificateProvider.RenewalDelay(now, notAfter, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(11), MeshCaCertificateProvider.RenewalDelay(now, notAfter, 1));
        Assert.Equal(TimeSpan.Zero, MeshCaCertificateProvider.RenewalDelay(notAfter, now, 0.5));
    }

    [Fact]
    public void WorkloadCertificate_WithoutPrivateKey_Throws()
    {
        using var leaf = SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/a", null);
        using var publicOnly = X509CertificateLoader.LoadCertificate(leaf.RawData);

        Assert.Throws<ArgumentException>(() => new WorkloadCertificate(publicOnly, [], []));
    }
}
