using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Mesh.Xds;

namespace Mesh.ControlPlane.Security;

/// <summary>
/// Join tokens: how a workload proves its identity to the CA without Kubernetes. A token is
/// <c>base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload)))</c>, where the payload is the JSON
/// <c>{"td":…,"ns":…,"sa":…,"exp":unix-seconds,"jti":…}</c> and the key is 32 random bytes kept in the CA directory
/// (<c>join-token.key</c>, owner-only). Holding a valid token for <c>ns/sa</c> is proof of that identity until it expires.
/// </summary>
internal sealed class JoinTokens
{
    /// <summary>The key file's name in the CA directory.</summary>
    public const string KeyFileName = "join-token.key";

    private const int KeyLength = 32;

    private readonly byte[] _key;

    private JoinTokens(byte[] key) => _key = key;

    /// <summary>Reads the token key from <paramref name="directory"/>, creating it (0600) on first use.</summary>
    public static JoinTokens LoadOrCreate(string directory)
    {
        SecretFiles.EnsureDirectory(directory);
        var path = Path.Combine(directory, KeyFileName);
        if (!File.Exists(path))
        {
            var fresh = RandomNumberGenerator.GetBytes(KeyLength);
            SecretFiles.TryCreate(path, Encoding.ASCII.GetBytes(Convert.ToBase64String(fresh) + "\n"), secret: true);
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(File.ReadAllText(path).Trim());
        }
        catch (FormatException ex)
        {
            throw new InvalidOperationException($"The join token key '{path}' is not base64: {ex.Message}", ex);
        }

        if (key.Length < KeyLength)
        {
            throw new InvalidOperationException($"The join token key '{path}' is shorter than {KeyLength} bytes.");
        }

        return new JoinTokens(key);
    }

    /// <summary>Issues a token for <paramref name="identity"/> that expires at <paramref name="expires"/>.</summary>
    public string Create(SpiffeId identity, DateTimeOffset expires)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("td", identity.TrustDomain);
            json.WriteString("ns", identity.Namespace);
            json.WriteString("sa", identity.ServiceAccount);
            json.WriteNumber("exp", expires.ToUnixTimeSeconds());
            json.WriteString("jti", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)));
            json.WriteEndObject();
        }

        var payload = Base64Url.EncodeToString(buffer.ToArray());
        return payload + "." + Base64Url.EncodeToString(Sign(payload));
    }

    /// <summary>
    /// Checks a token's signature, expiry and trust domain. Returns the identity it proves, or null with the reason in
    /// <paramref name="error"/> (safe to send to the caller: it says what is wrong, not what would be right).
    /// </summary>
    public SpiffeId? Validate(string token, string trustDomain, DateTimeOffset now, out string error)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == token.Length - 1 || token.IndexOf('.', dot + 1) >= 0)
        {
            error = "the token is malformed (expected <payload>.<signature>)";
            return null;
        }

        var payload = token[..dot];
        byte[] signature;
        try
        {
            signature = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            error = "the token's signature is not base64url";
            return null;
        }

        if (!CryptographicOperations.FixedTimeEquals(signature, Sign(payload)))
        {
            error = "the token's signature is invalid (not issued by this CA)";
            return null;
        }

        string? td, ns, sa;
        long exp;
        try
        {
            using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(payload));
            var root = document.RootElement;
            td = root.GetProperty("td").GetString();
            ns = root.GetProperty("ns").GetString();
            sa = root.GetProperty("sa").GetString();
            exp = root.GetProperty("exp").GetInt64();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            error = "the token's payload is malformed";
            return null;
        }

        if (now.ToUnixTimeSeconds() >= exp)
        {
            error = $"the token expired at {DateTimeOffset.FromUnixTimeSeconds(exp):u}";
            return null;
        }

        if (!string.Equals(td, trustDomain, StringComparison.Ordinal))
        {
            error = $"the token is for trust domain '{td}', not '{trustDomain}'";
            return null;
        }

        try
        {
            error = string.Empty;
            return new SpiffeId(td!, ns!, sa!);
        }
        catch (ArgumentException)
        {
            error = "the token names an invalid identity";
            return null;
        }
    }

    private byte[] Sign(string payload) => HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(payload));
}
