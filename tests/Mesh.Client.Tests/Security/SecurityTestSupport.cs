using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.Client.Security;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.Security;

/// <summary>Bootstraps with certificate providers, and certificates made outside the mesh CA.</summary>
internal static class SecurityTestSupport
{
    /// <summary>A bootstrap for <paramref name="cp"/> whose <c>default</c> provider is <c>mesh_ca</c> with <paramref name="config"/> added.</summary>
    public static string MeshCaBootstrap(TestControlPlane cp, string rootFile, string token, string extraConfig = "") => $$"""
        {
          "xds_servers": [{"server_uri": "{{cp.XdsAddress.Authority}}", "channel_creds": [{"type": "insecure"}]}],
          "certificate_providers": {
            "default": {
              "plugin_name": "mesh_ca",
              "config": {
                "server_uri": "{{cp.TlsAddress.GetLeftPart(UriPartial.Authority)}}",
                "ca_certificate_file": {{JsonSerializer.Serialize(rootFile)}},
                "token": "{{token}}"{{extraConfig}}
              }
            }
          }
        }
        """;

    /// <summary>Writes the control plane's root to a temporary file and returns its path.</summary>
    public static string WriteRoot(TestControlPlane cp)
    {
        var path = Path.Combine(cp.CaDirectory, "test-root-" + Guid.NewGuid().ToString("N") + ".pem");
        File.WriteAllText(path, cp.RootCertificatePem);
        return path;
    }

    /// <summary>A service provider with <c>AddMesh</c> on <paramref name="bootstrap"/>, logging to <paramref name="logs"/>.</summary>
    public static ServiceProvider Services(string bootstrap, InMemoryLogSink? logs = null, TimeProvider? time = null)
    {
        var services = new ServiceCollection().AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Debug);
            if (logs is not null)
            {
                b.AddProvider(logs);
            }
        });
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddMesh(o => o.BootstrapJson = bootstrap);
        return services.BuildServiceProvider();
    }

    /// <summary>Waits for <paramref name="provider"/>'s first certificate, at most 20 s.</summary>
    public static async Task<WorkloadCertificate> FirstCertificateAsync(CertificateProvider provider)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            return await provider.WaitForCertificateAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No certificate within 20 s; last error: " + provider.LastError);
        }
    }

    /// <summary>A self-signed CA certificate with its key.</summary>
    public static X509Certificate2 CreateRoot(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A leaf for <paramref name="spiffeId"/> signed by <paramref name="issuer"/> (or self-signed when null), with its key.</summary>
    public static X509Certificate2 CreateLeaf(string spiffeId, X509Certificate2? issuer)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=leaf", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri(spiffeId));
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-1);
        var notAfter = DateTimeOffset.UtcNow.AddHours(1);
        if (issuer is null)
        {
            return request.CreateSelfSigned(notBefore, notAfter);
        }

        using var certificate = request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(8));
        return certificate.CopyWithPrivateKey(key);
    }
}
