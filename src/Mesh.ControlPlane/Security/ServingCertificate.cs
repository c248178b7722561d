using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane.Security;

/// <summary>
/// The control plane's own TLS certificate for the TLS port, issued by its CA and re-issued when half of its lifetime
/// has passed, so a long-running control plane never serves an expired one.
/// </summary>
internal sealed partial class ServingCertificate(CertificateAuthority authority, IOptions<ControlPlaneOptions> options, TimeProvider time, ILogger<ServingCertificate> logger)
{
    /// <summary>The lifetime of the control plane's certificate.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    private readonly Lock _lock = new();
    private SslStreamCertificateContext? _context;
    private DateTimeOffset _renewAt;

    /// <summary>The certificate (with the intermediates up to, not including, the root) for the next handshake.</summary>
    public SslStreamCertificateContext Current
    {
        get
        {
            var now = time.GetUtcNow();
            lock (_lock)
            {
                if (_context is null || now >= _renewAt)
                {
                    var listen = IPAddress.TryParse(options.Value.ListenAddress, out var parsed) ? parsed : null;
                    var (certificate, intermediates) = authority.IssueServerCertificate(listen, Lifetime);
                    _context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
                    _renewAt = now + ((new DateTimeOffset(certificate.NotAfter.ToUniversalTime()) - now) / 2);
                    Log.Issued(logger, certificate.NotAfter);
                }

                return _context;
            }
        }
    }

    /// <summary>
    /// TLS options for one connection: this certificate, and a request for (not a requirement of) a client
    /// certificate, which the signing service accepts as proof of identity for renewals. A client that sends none is
    /// let in (it authenticates with a join token); one that sends a certificate must have it from this mesh's CA.
    /// </summary>
    public SslServerAuthenticationOptions CreateOptions() => new()
    {
        ServerCertificateContext = Current,
        ClientCertificateRequired = true,
        RemoteCertificateValidationCallback = ValidateClientCertificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    private bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return true;
        }

        using var copy = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (authority.ValidatePeerCertificate(copy, out var error) is not null)
        {
            return true;
        }

        Log.ClientCertificateRejected(logger, error);
        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Issued the control plane's TLS certificate, valid until {NotAfter:u}.")]
        public static partial void Issued(ILogger logger, DateTime notAfter);

        [LoggerMessage(2, LogLevel.Warning, "Refused a TLS client: {Reason}")]
        public static partial void ClientCertificateRejected(ILogger logger, string reason);
    }
}
