using System.Security.Cryptography.X509Certificates;
using System.Text;
using Mesh.Xds;

namespace Mesh.Server.Authorization;

/// <summary>
/// The identity of the peer of a connection, as RBAC's <c>authenticated</c> principal sees it (gRFC A41): whether the
/// connection uses TLS, and the client certificate's URI SANs, DNS SANs and subject. Computed once per connection.
/// </summary>
internal sealed class RbacPeer
{
    private RbacPeer(bool isTls, bool hasCertificate, string[] uriSans, string[] dnsSans, string subject)
    {
        IsTls = isTls;
        HasCertificate = hasCertificate;
        UriSans = uriSans;
        DnsSans = dnsSans;
        Subject = subject;
    }

    /// <summary>A peer on a connection without TLS: it never matches <c>authenticated</c>.</summary>
    public static RbacPeer Plaintext { get; } = new(false, false, [], [], string.Empty);

    /// <summary>A TLS peer that presented no client certificate.</summary>
    public static RbacPeer TlsWithoutCertificate { get; } = new(true, false, [], [], string.Empty);

    /// <summary>Whether the connection uses TLS.</summary>
    public bool IsTls { get; }

    /// <summary>Whether the peer presented a certificate.</summary>
    public bool HasCertificate { get; }

    /// <summary>The certificate's URI SANs (for a mesh workload, its SPIFFE ID).</summary>
    public IReadOnlyList<string> UriSans { get; }

    /// <summary>The certificate's DNS SANs.</summary>
    public IReadOnlyList<string> DnsSans { get; }

    /// <summary>The certificate's subject as an RFC 2253 name (empty without a certificate).</summary>
    public string Subject { get; }

    /// <summary>
    /// The identity to show in logs: the first URI SAN (the SPIFFE ID), else the first DNS SAN, else the subject;
    /// <c>plaintext</c> or <c>tls-without-certificate</c> when there is none.
    /// </summary>
    public string DisplayName => !IsTls ? "plaintext"
        : !HasCertificate ? "tls-without-certificate"
        : UriSans.Count > 0 ? UriSans[0]
        : DnsSans.Count > 0 ? DnsSans[0]
        : Subject;

    /// <summary>A TLS peer with the given identity (tests, and sources other than an X.509 certificate).</summary>
    public static RbacPeer Create(IEnumerable<string> uriSans, IEnumerable<string> dnsSans, string subject) =>
        new(true, true, [.. uriSans], [.. dnsSans], subject);

    /// <summary>The peer of a TLS connection; <paramref name="certificate"/> is the client certificate, if any.</summary>
    public static RbacPeer FromCertificate(X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return TlsWithoutCertificate;
        }

        var names = new List<(SubjectAlternativeNameKind Kind, string Value)>();
        SubjectAlternativeNames.TryRead(certificate.Extensions, names); // a malformed extension leaves the names read so far
        var uris = new List<string>();
        var dns = new List<string>();
        foreach (var (kind, value) in names)
        {
            if (kind == SubjectAlternativeNameKind.Uri)
            {
                uris.Add(value);
            }
            else if (kind == SubjectAlternativeNameKind.Dns)
            {
                dns.Add(value);
            }
        }

        return new RbacPeer(true, true, [.. uris], [.. dns], FormatRfc2253(certificate.SubjectName));
    }

    internal static string FormatRfc2253(X500DistinguishedName name)
    {
        var text = new StringBuilder();
        foreach (var rdn in name.EnumerateRelativeDistinguishedNames(reversed: true))
        {
            if (text.Length > 0)
            {
                text.Append(',');
            }

            if (rdn.HasMultipleElements)
            {
                // Multi-valued RDNs are rare in workload certificates; .NET formats them in its own style.
                text.Append(new X500DistinguishedName(rdn.RawData.Span).Name);
                continue;
            }

            var oid = rdn.GetSingleElementType();
            text.Append(ShortName(oid.Value)).Append('=');
            AppendEscaped(text, rdn.GetSingleElementValue() ?? string.Empty);
        }

        return text.ToString();
    }

    private static string ShortName(string? oid) => oid switch
    {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => oid ?? string.Empty,
    };

    private static void AppendEscaped(StringBuilder text, string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            var escape = c is ',' or '+' or '"' or '\\' or '<' or '>' or ';'
                || (i == 0 && (c == '#' || c == ' '))
                || (i == value.Length - 1 && c == ' ');
            if (escape)
            {
                text.Append('\\');
            }

            text.Append(c);
        }
    }
}
