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
internal sealed partial class ServingCertificate(
    CertificateAuthority authority, IOptions<ControlPlaneOptions> options, IOptions<Injection.InjectionOptions> injection, TimeProvider time, ILogger<ServingCertificate> logger)
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
                    // In a cluster, workloads dial the control plane's Service by name (mesh-controlplane.mesh-system.svc).
                    var names = options.Value.Kubernetes ? injection.Value.ServiceDnsNames(options.Value.ClusterDomain) : null;
                    var (certificate, intermediates) = authority.IssueServerCertificate(listen, Lifetime, names);
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
    /// certificate. The handshake lets every client in — a client certificate is an optional credential, checked by
    /// the signing service against the mesh root, which falls back to the join token when it is not valid (a workload
    /// whose certificate came from a replaced root must still be able to get a new one with its token).
    /// </summary>
    public SslServerAuthenticationOptions CreateOptions() => new()
    {
        ServerCertificateContext = Current,
        ClientCertificateRequired = true,
#pragma warning disable CA5359 // This validates *client* certificates, which are optional credentials checked by the signing service.
        RemoteCertificateValidationCallback = AcceptClient,
#pragma warning restore CA5359
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    private bool AcceptClient(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is not null && errors != SslPolicyErrors.None)
        {
            // Judged against the system roots; the mesh root is checked where the certificate is used.
            Log.ClientCertificateDeferred(logger, certificate.Subject, errors.ToString());
        }

        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Issued the control plane's TLS certificate, valid until {NotAfter:u}.")]
        public static partial void Issued(ILogger logger, DateTime notAfter);

        [LoggerMessage(2, LogLevel.Debug, "A TLS client presented a certificate ({Subject}) the system roots do not trust ({Errors}); the signing service checks it against the mesh root.")]
        public static partial void ClientCertificateDeferred(ILogger logger, string subject, string errors);
    }
}
