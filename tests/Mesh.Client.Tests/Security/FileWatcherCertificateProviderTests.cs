using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.Client.Security;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Security;

/// <summary>gRPC's <c>file_watcher</c> provider: certificates mounted by other tooling, reloaded on change.</summary>
public sealed class FileWatcherCertificateProviderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mesh-test-fw-").FullName;
    private readonly X509Certificate2 _root = SecurityTestSupport.CreateRoot("CN=Mounted Root");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    private string CertFile => Path.Combine(_dir, "cert.pem");

    private string KeyFile => Path.Combine(_dir, "key.pem");

    private string CaFile => Path.Combine(_dir, "ca.pem");

    public void Dispose()
    {
        _root.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Get_FileWatcher_LoadsTheMountedCertificateKeyAndRoots()
    {
        Write(SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/details", _root));
        using var services = SecurityTestSupport.Services(Bootstrap(), time: _time);

        var provider = services.GetRequiredService<CertificateProviderStore>().Get("default")!;
        var certificate = await SecurityTestSupport.FirstCertificateAsync(provider);

        Assert.Equal("file_watcher", provider.PluginName);
        Assert.Equal(new SpiffeId("cluster.local", "default", "details"), certificate.Identity);
        Assert.True(certificate.Certificate.HasPrivateKey);
        Assert.Equal(_root.Thumbprint, Assert.Single(certificate.TrustedRoots).Thumbprint);
    }

    [Fact]
    public void Reload_ReplacedFiles_PublishesTheNewCertificateAtTheNextRefresh()
    {
        Write(SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/old", _root));
        using var services = SecurityTestSupport.Services(Bootstrap(), time: _time);
        var provider = services.GetRequiredService<CertificateProviderStore>().Get("default")!;
        var changes = new List<WorkloadCertificate>();
        provider.Changed += changes.Add;
        Assert.Equal("old", provider.Current!.Identity!.ServiceAccount);

        Write(SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/new", _root));
        _time.Advance(TimeSpan.FromSeconds(9));
        var beforeRefresh = provider.Current;
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("old", beforeRefresh.Identity!.ServiceAccount);
        Assert.Equal("new", Assert.Single(changes).Identity!.ServiceAccount);
        Assert.Same(changes[0], provider.Current);

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Single(changes); // unchanged files are not published again
    }

    [Fact]
    public void Reload_BadOrMismatchedFiles_KeepTheLastGoodCertificateAndLog()
    {
        var logs = new InMemoryLogSink();
        Write(SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/good", _root));
        using var services = SecurityTestSupport.Services(Bootstrap(), logs, _time);
        var provider = services.GetRequiredService<CertificateProviderStore>().Get("default")!;
        var good = provider.Current;

        File.WriteAllText(CertFile, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        _time.Advance(TimeSpan.FromSeconds(10));
        var afterGarbage = (provider.Current, provider.LastError);

        using (var other = SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/other", _root))
        {
            File.WriteAllText(CertFile, other.ExportCertificatePem()); // a certificate whose key is not key.pem: half an update
        }

        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Same(good, afterGarbage.Current);
        Assert.NotNull(afterGarbage.LastError);
        Assert.Same(good, provider.Current);
        Assert.NotNull(provider.LastError);
        Assert.Equal(2, logs.MessagesAtLeast(LogLevel.Warning).Count(m => m.Contains("keeping the last good certificate", StringComparison.Ordinal)));

        Write(SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/fixed", _root));
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal("fixed", provider.Current!.Identity!.ServiceAccount);
        Assert.Null(provider.LastError);
    }

    private string Bootstrap() => $$"""
        {
          "xds_servers": [{"server_uri": "127.0.0.1:1", "channel_creds": [{"type": "insecure"}]}],
          "certificate_providers": {
            "default": {
              "plugin_name": "file_watcher",
              "config": {
                "certificate_file": {{JsonSerializer.Serialize(CertFile)}},
                "private_key_file": {{JsonSerializer.Serialize(KeyFile)}},
                "ca_certificate_file": {{JsonSerializer.Serialize(CaFile)}},
                "refresh_interval": "10s"
              }
            }
          }
        }
        """;

    /// <summary>Replaces the three files, each atomically (written aside, then renamed), as Kubernetes secret mounts do.</summary>
    private void Write(X509Certificate2 leaf)
    {
        using (leaf)
        {
            using var key = leaf.GetECDsaPrivateKey()!;
            Replace(CertFile, leaf.ExportCertificatePem());
            Replace(KeyFile, key.ExportPkcs8PrivateKeyPem());
            Replace(CaFile, _root.ExportCertificatePem());
        }
    }

    private static void Replace(string path, string content)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }
}
