using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Routing;
using Mesh.Xds;

namespace Mesh.Client.Transport;

/// <summary>
/// Checks a peer's certificate the way a mesh does: it must chain to the mesh's roots (and only to them — the
/// system store is not consulted) and, when identities are expected, its SPIFFE ID must match one of them. Host
/// names play no part: workloads are addressed by IP and identified by SPIFFE ID.
/// </summary>
internal static class PeerCertificateValidator
{
    /// <summary>Validates <paramref name="certificate"/>; on success <paramref name="identity"/> is the peer's SPIFFE ID when it has one.</summary>
    public static bool TryValidate(
        X509Certificate? certificate,
        X509Chain? presented,
        X509Certificate2Collection roots,
        ImmutableArray<HeaderCondition> expected,
        out SpiffeId? identity,
        [NotNullWhen(false)] out string? error)
    {
        identity = null;
        if (certificate is not X509Certificate2 leaf)
        {
            error = "the peer presented no certificate";
            return false;
        }

        if (roots.Count == 0)
        {
            error = "no trusted roots are available to validate the peer";
            return false;
        }

        using (var chain = new X509Chain())
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (presented is not null)
            {
                foreach (var element in presented.ChainElements)
                {
                    if (!ReferenceEquals(element.Certificate, leaf))
                    {
                        chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                    }
                }
            }

            if (!chain.Build(leaf))
            {
                var reasons = new List<string>();
                foreach (var status in chain.ChainStatus)
                {
                    reasons.Add(status.Status.ToString());
                }

                error = $"the peer's certificate ({leaf.Subject}) does not chain to the mesh's roots: {string.Join(", ", reasons)}";
                return false;
            }
        }

        SpiffeId.TryFromCertificate(leaf, out identity);
        if (expected.IsDefaultOrEmpty)
        {
            error = null;
            return true;
        }

        var presentedId = identity?.ToString();
        foreach (var matcher in expected)
        {
            if (matcher.Matches(presentedId))
            {
                error = null;
                return true;
            }
        }

        error = $"the peer's identity '{presentedId ?? "(none)"}' is not one this cluster expects";
        return false;
    }
}
