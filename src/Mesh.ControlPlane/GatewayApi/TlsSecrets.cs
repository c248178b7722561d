using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>Checks that a Kubernetes TLS Secret (<c>tls.crt</c> and <c>tls.key</c>, PEM) holds a usable certificate and key.</summary>
internal static class TlsSecrets
{
    /// <summary>Why <paramref name="secret"/> cannot serve TLS, or null when its certificate and key load as a pair.</summary>
    public static string? Check(JsonObject secret)
    {
        if (Read(secret, "tls.crt", out var certificate) is { } certificateProblem)
        {
            return certificateProblem;
        }

        if (Read(secret, "tls.key", out var key) is { } keyProblem)
        {
            return keyProblem;
        }

        try
        {
            using var loaded = X509Certificate2.CreateFromPem(certificate, key);
            return loaded.HasPrivateKey ? null : "tls.key is not the key of tls.crt";
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            return "tls.crt and tls.key do not load as a PEM certificate and its private key: " + ex.Message;
        }
    }

    private static string? Read(JsonObject secret, string key, out string pem)
    {
        pem = string.Empty;
        if (secret["data"]?[key] is JsonValue data && data.TryGetValue<string>(out var encoded))
        {
            try
            {
                pem = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                return null;
            }
            catch (FormatException)
            {
                return $"data.{key} is not base64";
            }
        }

        if (secret["stringData"]?[key] is JsonValue text && text.TryGetValue<string>(out var plain))
        {
            pem = plain;
            return null;
        }

        return $"has no {key}";
    }
}
