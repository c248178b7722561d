using System.Security.Cryptography.X509Certificates;
using Mesh.Xds;

namespace Mesh.Client.Security;

/// <summary>
/// A workload's TLS identity at one moment: its certificate with the private key, the intermediates to send with it,
/// and the roots to validate peers against. Immutable: a renewal produces a new instance. Treat the collections as
/// read-only.
/// </summary>
public sealed class WorkloadCertificate
{
    /// <summary>Creates a workload certificate.</summary>
    /// <param name="certificate">The leaf certificate, with its private key.</param>
    /// <param name="intermediates">The certificates between the leaf and a root, leaf side first; copied.</param>
    /// <param name="trustedRoots">The roots peers' certificates must chain to; copied.</param>
    /// <exception cref="ArgumentException"><paramref name="certificate"/> has no private key.</exception>
    public WorkloadCertificate(X509Certificate2 certificate, X509Certificate2Collection intermediates, X509Certificate2Collection trustedRoots)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(intermediates);
        ArgumentNullException.ThrowIfNull(trustedRoots);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("A workload certificate needs its private key.", nameof(certificate));
        }

        Certificate = certificate;
        Intermediates = [.. intermediates];
        TrustedRoots = [.. trustedRoots];
        Identity = SpiffeId.TryFromCertificate(certificate, out var id) ? id : null;
        NotAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
    }

    /// <summary>The leaf certificate, with its private key (generated in this process when it came from the mesh CA).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The certificates between <see cref="Certificate"/> and its root, to send along with it.</summary>
    public X509Certificate2Collection Intermediates { get; }

    /// <summary>The roots to validate peers' certificates against (as <see cref="X509ChainTrustMode.CustomRootTrust"/>).</summary>
    public X509Certificate2Collection TrustedRoots { get; }

    /// <summary>The SPIFFE identity in <see cref="Certificate"/>'s URI SAN, or null when it has none.</summary>
    public SpiffeId? Identity { get; }

    /// <summary>When <see cref="Certificate"/> expires.</summary>
    public DateTimeOffset NotAfter { get; }
}
