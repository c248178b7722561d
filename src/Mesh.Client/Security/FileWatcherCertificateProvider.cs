using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Security;

/// <summary>
/// gRPC's <c>file_watcher</c> plugin (gRFC A29): the certificate, key and CA files mounted by other tooling, read at
/// start and re-read every <c>refresh_interval</c>. A change is published when all files read and the key matches the
/// certificate; a bad or half-written set keeps the last good certificate and is logged (and retried at the next tick).
/// </summary>
internal sealed partial class FileWatcherCertificateProvider(FileWatcherConfig config, TimeProvider time, ILogger<FileWatcherCertificateProvider> logger)
    : CertificateProvider(logger)
{
    private readonly Lock _lock = new();
    private ITimer? _timer;
    private byte[]? _lastContent;

    public override string PluginName => CertificateProviderPlugins.FileWatcher;

    protected override void Start()
    {
        Reload();
        _timer = time.CreateTimer(static state => ((FileWatcherCertificateProvider)state!).Reload(), this, config.RefreshInterval, config.RefreshInterval);
    }

    protected override void Dispose(bool disposing)
    {
        _timer?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Reads the files and publishes them when they changed and are valid.</summary>
    internal void Reload()
    {
        lock (_lock)
        {
            string certificatePem, keyPem;
            string? caPem = null;
            try
            {
                certificatePem = File.ReadAllText(config.CertificateFile);
                keyPem = File.ReadAllText(config.PrivateKeyFile);
                if (config.CaCertificateFile is { } caFile)
                {
                    caPem = File.ReadAllText(caFile);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail(ex);
                return;
            }

            var content = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(certificatePem + "\0" + keyPem + "\0" + caPem));
            if (_lastContent is not null && content.AsSpan().SequenceEqual(_lastContent))
            {
                return;
            }

            WorkloadCertificate certificate;
            try
            {
                var chain = CertificateFiles.ParseCertificates(certificatePem, $"'{config.CertificateFile}'");
                var leaf = CertificateFiles.ForTls(X509Certificate2.CreateFromPem(certificatePem, keyPem));
                var intermediates = new X509Certificate2Collection();
                for (var i = 1; i < chain.Count; i++)
                {
                    intermediates.Add(chain[i]);
                }

                var roots = caPem is null ? [] : CertificateFiles.ParseCertificates(caPem, $"'{config.CaCertificateFile}'");
                certificate = new WorkloadCertificate(leaf, intermediates, roots);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                Fail(ex);
                return;
            }

            _lastContent = content;
            Log.Loaded(Logger, config.CertificateFile, certificate.Identity?.ToString() ?? "(no SPIFFE ID)", certificate.NotAfter);
            Publish(certificate);
        }
    }

    private void Fail(Exception ex)
    {
        ReportError(ex);
        if (Current is null)
        {
            Log.LoadFailed(Logger, config.CertificateFile, ex);
        }
        else
        {
            Log.ReloadFailed(Logger, config.CertificateFile, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Loaded the certificate {File} for {Identity}, valid until {NotAfter:u}.")]
        public static partial void Loaded(ILogger logger, string file, string identity, DateTimeOffset notAfter);

        [LoggerMessage(2, LogLevel.Error, "Cannot load the certificate files ({File}); no certificate yet, retrying at the next refresh.")]
        public static partial void LoadFailed(ILogger logger, string file, Exception exception);

        [LoggerMessage(3, LogLevel.Warning, "Cannot reload the certificate files ({File}); keeping the last good certificate.")]
        public static partial void ReloadFailed(ILogger logger, string file, Exception exception);
    }
}
