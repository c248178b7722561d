using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Xds;

/// <summary>
/// A workload identity in Istio's SPIFFE form, <c>spiffe://&lt;trust-domain&gt;/ns/&lt;namespace&gt;/sa/&lt;service-account&gt;</c>,
/// as carried in the URI subject alternative name of mesh certificates.
/// </summary>
/// <remarks>
/// Parsing follows the SPIFFE ID specification: the scheme is <c>spiffe</c>; the trust domain is 1–255 characters of
/// lower-case letters, digits, <c>.</c>, <c>-</c> and <c>_</c>; path segments are non-empty, are not <c>.</c> or
/// <c>..</c>, and use letters, digits, <c>.</c>, <c>-</c> and <c>_</c>; no query, fragment, port or user info; at most
/// 2048 bytes. On top of that the path must be exactly <c>/ns/&lt;namespace&gt;/sa/&lt;service-account&gt;</c>.
/// </remarks>
public sealed record SpiffeId
{
    /// <summary>The URI scheme of SPIFFE IDs.</summary>
    public const string Scheme = "spiffe";

    private const int MaxLength = 2048;
    private const int MaxTrustDomainLength = 255;


    /// <summary>Creates an identity, checking each part.</summary>
    /// <param name="trustDomain">The trust domain, e.g. <c>cluster.local</c>.</param>
    /// <param name="namespace">The namespace, e.g. <c>default</c>.</param>
    /// <param name="serviceAccount">The service account, e.g. <c>productpage</c>.</param>
    /// <exception cref="ArgumentException">A part is empty or has characters a SPIFFE ID does not allow.</exception>
    public SpiffeId(string trustDomain, string @namespace, string serviceAccount)
    {
        if (!IsValidTrustDomain(trustDomain))
        {
            throw new ArgumentException($"'{trustDomain}' is not a valid SPIFFE trust domain (1-255 characters of a-z, 0-9, '.', '-', '_').", nameof(trustDomain));
        }

        if (!IsValidSegment(@namespace))
        {
            throw new ArgumentException($"'{@namespace}' is not a valid namespace in a SPIFFE ID (letters, digits, '.', '-', '_'; not '.' or '..').", nameof(@namespace));
        }

        if (!IsValidSegment(serviceAccount))
        {
            throw new ArgumentException($"'{serviceAccount}' is not a valid service account in a SPIFFE ID (letters, digits, '.', '-', '_'; not '.' or '..').", nameof(serviceAccount));
        }

        TrustDomain = trustDomain;
        Namespace = @namespace;
        ServiceAccount = serviceAccount;
        if (ToString().Length > MaxLength)
        {
            throw new ArgumentException("A SPIFFE ID is at most 2048 characters long.", nameof(serviceAccount));
        }
    }

    /// <summary>The trust domain, e.g. <c>cluster.local</c>.</summary>
    public string TrustDomain { get; }

    /// <summary>The namespace, e.g. <c>default</c>.</summary>
    public string Namespace { get; }

    /// <summary>The service account, e.g. <c>productpage</c>.</summary>
    public string ServiceAccount { get; }

    /// <summary>Parses <c>spiffe://&lt;td&gt;/ns/&lt;ns&gt;/sa/&lt;sa&gt;</c>.</summary>
    /// <param name="text">The ID.</param>
    /// <returns>The identity.</returns>
    /// <exception cref="FormatException"><paramref name="text"/> is not a SPIFFE ID of that form; the message says why.</exception>
    public static SpiffeId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var id, out var error) ? id : throw new FormatException(error);
    }

    /// <summary>Parses <c>spiffe://&lt;td&gt;/ns/&lt;ns&gt;/sa/&lt;sa&gt;</c> without throwing.</summary>
    /// <param name="text">The ID, or null.</param>
    /// <param name="id">The identity, when the result is true.</param>
    /// <returns>Whether <paramref name="text"/> is a valid SPIFFE ID of that form.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out SpiffeId? id) => TryParse(text, out id, out _);

    /// <summary>
    /// Reads the identity of an X.509 certificate: its one <c>spiffe://</c> URI subject alternative name (an X509-SVID
    /// has exactly one URI name).
    /// </summary>
    /// <param name="certificate">The certificate.</param>
    /// <param name="id">The identity, when the result is true.</param>
    /// <returns>False when the certificate has no subject alternative names, not exactly one URI name, or that URI is
    /// not a SPIFFE ID of the Istio form.</returns>
    public static bool TryFromCertificate(X509Certificate2 certificate, [NotNullWhen(true)] out SpiffeId? id)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        id = null;
        var names = new List<(SubjectAlternativeNameKind Kind, string Value)>();
        if (!SubjectAlternativeNames.TryRead(certificate.Extensions, names))
        {
            return false;
        }

        string? uri = null;
        foreach (var (kind, value) in names)
        {
            if (kind == SubjectAlternativeNameKind.Uri)
            {
                if (uri is not null)
                {
                    return false; // more than one URI name
                }

                uri = value;
            }
        }

        return TryParse(uri, out id);
    }

    /// <summary>The ID as a URI string, <c>spiffe://&lt;td&gt;/ns/&lt;ns&gt;/sa/&lt;sa&gt;</c>.</summary>
    /// <returns>The ID.</returns>
    public override string ToString() => $"{Scheme}://{TrustDomain}/ns/{Namespace}/sa/{ServiceAccount}";

    /// <summary>The ID as a <see cref="Uri"/>, e.g. for <see cref="SubjectAlternativeNameBuilder.AddUri(Uri)"/>.</summary>
    /// <returns>The URI.</returns>
    public Uri ToUri() => new(ToString(), UriKind.Absolute);

    private static bool TryParse(string? text, [NotNullWhen(true)] out SpiffeId? id, out string error)
    {
        id = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "A SPIFFE ID must not be empty.";
            return false;
        }

        if (text.Length > MaxLength)
        {
            error = "A SPIFFE ID is at most 2048 characters long.";
            return false;
        }

        const string prefix = Scheme + "://";
        if (!text.StartsWith(prefix, StringComparison.Ordinal))
        {
            error = $"'{text}' is not a SPIFFE ID: it must start with '{prefix}' (lower case).";
            return false;
        }

        var rest = text.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        var trustDomain = (slash < 0 ? rest : rest[..slash]).ToString();
        if (!IsValidTrustDomain(trustDomain))
        {
            error = $"'{text}' is not a SPIFFE ID: the trust domain '{trustDomain}' must be 1-255 characters of a-z, 0-9, '.', '-', '_' (no port, user info or upper case).";
            return false;
        }

        var path = slash < 0 ? ReadOnlySpan<char>.Empty : rest[slash..];
        Span<Range> segments = stackalloc Range[6];
        var count = path.Length == 0 ? 0 : path[1..].Split(segments, '/');
        if (count != 4 || !path[1..][segments[0]].SequenceEqual("ns") || !path[1..][segments[2]].SequenceEqual("sa"))
        {
            error = $"'{text}' is not a workload SPIFFE ID: the path must be /ns/<namespace>/sa/<service-account>.";
            return false;
        }

        var ns = path[1..][segments[1]].ToString();
        var sa = path[1..][segments[3]].ToString();
        if (!IsValidSegment(ns) || !IsValidSegment(sa))
        {
            error = $"'{text}' is not a SPIFFE ID: path segments must be non-empty, not '.' or '..', and use only letters, digits, '.', '-', '_'.";
            return false;
        }

        id = new SpiffeId(trustDomain, ns, sa);
        error = string.Empty;
        return true;
    }

    private static bool IsValidTrustDomain(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxTrustDomainLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsValidSegment(string? value)
    {
        if (string.IsNullOrEmpty(value) || value is "." or "..")
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }
}
