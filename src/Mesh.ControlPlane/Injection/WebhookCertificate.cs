using System.Security.Cryptography.X509Certificates;
using Mesh.ControlPlane.Security;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// The injection webhook's TLS certificate, issued by the mesh CA for the control plane's Service names
/// (<c>mesh-controlplane.mesh-system.svc</c> and its shorter and longer forms, as the API server dials it), re-issued at
/// half of its lifetime. The API server trusts it through the caBundle the leader writes: the mesh root.
/// </summary>
internal sealed partial class WebhookCertificate(CertificateAuthority authority, IReadOnlyList<string> dnsNames, TimeProvider time, ILogger logger)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    private readonly Lock _lock = new();
    private X509Certificate2? _certificate;
    private DateTimeOffset _renewAt;

    public X509Certificate2 Current
    {
        get
        {
            var now = time.GetUtcNow();
            lock (_lock)
            {
                if (_certificate is null || now >= _renewAt)
                {
                    var (certificate, _) = authority.IssueServerCertificate(null, Lifetime, dnsNames);
                    _certificate = certificate;
                    _renewAt = now + ((new DateTimeOffset(certificate.NotAfter.ToUniversalTime()) - now) / 2);
                    Log.Issued(logger, string.Join(", ", dnsNames), certificate.NotAfter);
                }

                return _certificate;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Issued the injection webhook's TLS certificate for {Names}, valid until {NotAfter:u}.")]
        public static partial void Issued(ILogger logger, string names, DateTime notAfter);
    }
}
