using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Client.Security;

/// <summary>Reading PEM certificates and keys, and making a leaf with an in-memory key usable by every TLS stack.</summary>
internal static class CertificateFiles
{
    /// <summary>Every certificate in PEM <paramref name="text"/>; throws when there is none.</summary>
    public static X509Certificate2Collection ParseCertificates(string text, string what)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPem(text);
        if (collection.Count == 0)
        {
            throw new CryptographicException($"{what} holds no PEM certificate.");
        }

        return collection;
    }

    /// <summary>
    /// Makes <paramref name="certificate"/> (with a key in memory) usable for SslStream on this platform. On Linux and
    /// macOS an ephemeral key works as it is (pinned by the Security tests' real handshakes); Windows' TLS stack (SChannel)
    /// needs a key it can find, which a PKCS#12 round trip provides.
    /// </summary>
    public static X509Certificate2 ForTls(X509Certificate2 certificate)
    {
        if (!OperatingSystem.IsWindows())
        {
            return certificate;
        }

        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
