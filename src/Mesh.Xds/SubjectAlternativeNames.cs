using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Xds;

/// <summary>The kind of a subject alternative name (RFC 5280 GeneralName) Mesh reads.</summary>
public enum SubjectAlternativeNameKind
{
    /// <summary>A URI (tag 6): SPIFFE IDs.</summary>
    Uri,

    /// <summary>A DNS name (tag 2).</summary>
    Dns,

    /// <summary>An IP address (tag 7).</summary>
    IPAddress,

    /// <summary>Any other kind (e-mail, directory name, other name, ...), value empty.</summary>
    Other,
}

/// <summary>
/// Reads the subject alternative names of certificates and certificate requests. .NET's own
/// <see cref="X509SubjectAlternativeNameExtension"/> lists DNS names and IP addresses only, and workload identities are
/// URIs; this is the one place Mesh decodes the extension (SPIFFE IDs, RBAC principals, the CA's CSR checks).
/// </summary>
public static class SubjectAlternativeNames
{
    /// <summary>The OID of the subject alternative name extension.</summary>
    public const string ExtensionOid = "2.5.29.17";

    private static readonly Asn1Tag UriTag = new(TagClass.ContextSpecific, 6);
    private static readonly Asn1Tag DnsTag = new(TagClass.ContextSpecific, 2);
    private static readonly Asn1Tag IPTag = new(TagClass.ContextSpecific, 7);

    /// <summary>
    /// Adds every name of every subject alternative name extension in <paramref name="extensions"/> to
    /// <paramref name="names"/>, in order. Returns false, with <paramref name="names"/> partly filled, when an extension
    /// is malformed.
    /// </summary>
    public static bool TryRead(IEnumerable<X509Extension> extensions, List<(SubjectAlternativeNameKind Kind, string Value)> names)
    {
        ArgumentNullException.ThrowIfNull(extensions);
        ArgumentNullException.ThrowIfNull(names);
        foreach (var extension in extensions)
        {
            if (extension.Oid?.Value != ExtensionOid)
            {
                continue;
            }

            try
            {
                var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
                var sequence = reader.ReadSequence();
                reader.ThrowIfNotEmpty();
                while (sequence.HasData)
                {
                    var tag = sequence.PeekTag();
                    if (tag.HasSameClassAndValue(UriTag))
                    {
                        names.Add((SubjectAlternativeNameKind.Uri, sequence.ReadCharacterString(UniversalTagNumber.IA5String, UriTag)));
                    }
                    else if (tag.HasSameClassAndValue(DnsTag))
                    {
                        names.Add((SubjectAlternativeNameKind.Dns, sequence.ReadCharacterString(UniversalTagNumber.IA5String, DnsTag)));
                    }
                    else if (tag.HasSameClassAndValue(IPTag))
                    {
                        names.Add((SubjectAlternativeNameKind.IPAddress, new IPAddress(sequence.ReadOctetString(IPTag)).ToString()));
                    }
                    else
                    {
                        sequence.ReadEncodedValue();
                        names.Add((SubjectAlternativeNameKind.Other, string.Empty));
                    }
                }
            }
            catch (Exception ex) when (ex is AsnContentException or CryptographicException or ArgumentException)
            {
                return false;
            }
        }

        return true;
    }
}
