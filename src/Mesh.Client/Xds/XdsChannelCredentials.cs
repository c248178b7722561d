using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Mesh.Client.Bootstrap;

namespace Mesh.Client.Xds;

/// <summary>
/// A bootstrap server's <c>channel_creds</c> applied to the xDS channel's handler. <c>insecure</c>: plaintext h2c.
/// <c>tls</c>: TLS; with a <c>config</c> naming <c>ca_certificate_file</c> (PEM) the server must chain to those roots
/// only (not the system's), and with <c>certificate_file</c> plus <c>private_key_file</c> the client presents that
/// certificate (e.g. the mesh identity towards the control plane on 15012).
/// </summary>
internal static class XdsChannelCredentials
{
    /// <summary>Configures <paramref name="handler"/> for <paramref name="server"/>'s credentials.</summary>
    /// <remarks>Files that cannot be read leave a handler that refuses every server: never the system roots instead.</remarks>
    public static void Apply(XdsServerConfig server, SocketsHttpHandler handler)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(handler);
        if (server.ChannelCredentialsType != XdsServerConfig.TlsCredentials || server.ChannelCredentialsConfig is not { ValueKind: JsonValueKind.Object } config)
        {
            return;
        }

        try
        {
            if (config.TryGetProperty("ca_certificate_file", out var ca) && ca.GetString() is { Length: > 0 } caFile)
            {
                var roots = new X509Certificate2Collection();
                roots.ImportFromPemFile(caFile);
                if (roots.Count == 0)
                {
                    throw new CryptographicException($"'{caFile}' holds no certificate");
                }

                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Validate(roots, certificate, chain, errors);
            }

            if (config.TryGetProperty("certificate_file", out var cert) && cert.GetString() is { Length: > 0 } certFile
                && config.TryGetProperty("private_key_file", out var key) && key.GetString() is { Length: > 0 } keyFile)
            {
                handler.SslOptions.ClientCertificates = new X509CertificateCollection { X509Certificate2.CreateFromPemFile(certFile, keyFile) };
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or InvalidOperationException)
        {
            var reason = ex.Message;
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => false;
            throw new XdsBootstrapException($"channel_creds of xDS server '{server.ServerUri}' cannot be loaded: {reason}");
        }
    }

    /// <summary>The server chains to <paramref name="roots"/> (and only them) and its name matches.</summary>
    internal static bool Validate(X509Certificate2Collection roots, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(roots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (certificate is X509Certificate2 typed)
        {
            return custom.Build(typed);
        }

        using var loaded = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(loaded);
    }
}
