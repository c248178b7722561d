using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using Mesh.Xds;

namespace Mesh.Client.Security;

/// <summary>The certificate provider plugins Mesh has, and the reading of their bootstrap <c>config</c> objects.</summary>
internal static class CertificateProviderPlugins
{
    /// <summary>gRPC's file watcher (gRFC A29): PEM files mounted by other tooling, reloaded when they change.</summary>
    public const string FileWatcher = "file_watcher";

    /// <summary>Mesh's own: a key generated in-process and a certificate from the Mesh (or Istio) CA.</summary>
    public const string MeshCa = "mesh_ca";

    /// <summary>
    /// Reads the <c>config</c> of a provider of a plugin Mesh has, adding each problem (naming its field under
    /// <paramref name="path"/>) to <paramref name="errors"/>. Plugins Mesh does not have are not checked, as in other
    /// gRPC implementations: the bootstrap may be shared with them.
    /// </summary>
    public static object? ReadConfig(string plugin, JsonElement config, string path, List<string> errors) => plugin switch
    {
        FileWatcher => FileWatcherConfig.Read(new ConfigReader(config, path + ".config", errors)),
        MeshCa => MeshCaConfig.Read(new ConfigReader(config, path + ".config", errors)),
        _ => null,
    };
}

/// <summary>The <c>file_watcher</c> plugin's config.</summary>
internal sealed record FileWatcherConfig(string CertificateFile, string PrivateKeyFile, string? CaCertificateFile, TimeSpan RefreshInterval)
{
    /// <summary>gRFC A29's default refresh interval: 10 minutes.</summary>
    public static readonly TimeSpan DefaultRefreshInterval = TimeSpan.FromMinutes(10);

    public static FileWatcherConfig? Read(ConfigReader reader)
    {
        if (!reader.IsObject())
        {
            return null;
        }

        var certificate = reader.String("certificate_file");
        var key = reader.String("private_key_file");
        var ca = reader.String("ca_certificate_file");
        var refresh = reader.Duration("refresh_interval") ?? DefaultRefreshInterval;
        if (certificate is null && key is null && ca is null)
        {
            reader.Error("", "must name certificate_file and private_key_file (and usually ca_certificate_file)");
            return null;
        }

        if (certificate is null || key is null)
        {
            // A29 allows a provider with only a CA file; Mesh's providers always supply an identity.
            reader.Error(certificate is null ? "certificate_file" : "private_key_file",
                "is required: Mesh uses a file_watcher provider for the workload's own certificate and key, so both certificate_file and private_key_file must be set");
        }

        if (refresh <= TimeSpan.Zero)
        {
            reader.Error("refresh_interval", "must be positive");
        }

        return reader.Failed || certificate is null || key is null ? null : new FileWatcherConfig(certificate, key, ca, refresh);
    }
}

/// <summary>The <c>mesh_ca</c> plugin's config.</summary>
internal sealed record MeshCaConfig(
    Uri ServerUri, string CaCertificateFile, string? Token, string? TokenFile, TimeSpan CertificateLifetime, string KeyType, SpiffeId? Identity)
{
    /// <summary>The default key type: ECDSA P-256.</summary>
    public const string EcdsaP256 = "EC_P256";

    /// <summary>The other key type: RSA 2048.</summary>
    public const string Rsa2048 = "RSA_2048";

    /// <summary>The default certificate lifetime asked for: 24 hours.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(24);

    public static MeshCaConfig? Read(ConfigReader reader)
    {
        if (!reader.IsObject())
        {
            return null;
        }

        var serverText = reader.String("server_uri");
        Uri? server = null;
        if (serverText is null)
        {
            reader.Error("server_uri", "is required (the CA's TLS address, e.g. https://127.0.0.1:15012)");
        }
        else if (!Uri.TryCreate(serverText, UriKind.Absolute, out server) || server.Scheme != Uri.UriSchemeHttps || server.Host.Length == 0)
        {
            reader.Error("server_uri", $"'{serverText}' must be an https:// address, e.g. https://127.0.0.1:15012");
            server = null;
        }

        var ca = reader.String("ca_certificate_file");
        if (ca is null)
        {
            reader.Error("ca_certificate_file", "is required (the mesh root certificate, PEM, that the CA's TLS certificate chains to)");
        }

        var token = reader.String("token");
        var tokenFile = reader.String("token_file");
        if ((token is null) == (tokenFile is null))
        {
            reader.Error("token", "exactly one of token and token_file must be set");
        }

        var lifetime = reader.Duration("certificate_lifetime") ?? DefaultLifetime;
        if (lifetime < TimeSpan.FromSeconds(2))
        {
            reader.Error("certificate_lifetime", "must be at least 2s");
        }

        var keyType = reader.String("key_type") ?? EcdsaP256;
        if (keyType is not (EcdsaP256 or Rsa2048))
        {
            reader.Error("key_type", $"'{keyType}' is not supported (use {EcdsaP256} or {Rsa2048})");
        }

        var trustDomain = reader.String("trust_domain");
        var ns = reader.String("namespace");
        var sa = reader.String("service_account");
        SpiffeId? identity = null;
        if (ns is not null || sa is not null || trustDomain is not null)
        {
            if (ns is null || sa is null)
            {
                reader.Error(ns is null ? "namespace" : "service_account", "namespace and service_account must be set together");
            }
            else
            {
                try
                {
                    identity = new SpiffeId(trustDomain ?? TokenIdentity(token)?.TrustDomain ?? "cluster.local", ns, sa);
                }
                catch (ArgumentException ex)
                {
                    reader.Error("namespace", ex.Message);
                }
            }
        }
        else if (token is not null && TokenIdentity(token) is null)
        {
            reader.Error("token", "is not a Mesh join token, so the identity cannot be read from it: set namespace and service_account");
        }

        return reader.Failed ? null : new MeshCaConfig(server!, ca!, token, tokenFile, lifetime, keyType, identity);
    }

    /// <summary>The identity a Mesh join token's payload names (read without verifying it: the CA does that), or null.</summary>
    public static SpiffeId? TokenIdentity(string? token)
    {
        var dot = token?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (dot <= 0)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(0, dot)));
            var root = document.RootElement;
            return new SpiffeId(
                root.GetProperty("td").GetString()!, root.GetProperty("ns").GetString()!, root.GetProperty("sa").GetString()!);
        }
        catch (Exception ex) when (ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>Reads fields of one plugin config object, recording problems with their full path.</summary>
internal sealed class ConfigReader(JsonElement config, string path, List<string> errors)
{
    private readonly int _errorsBefore = errors.Count;

    public bool Failed => errors.Count > _errorsBefore;

    public bool IsObject()
    {
        if (config.ValueKind == JsonValueKind.Object)
        {
            return true;
        }

        errors.Add($"{path} must be an object");
        return false;
    }

    public void Error(string field, string message) => errors.Add(field.Length == 0 ? $"{path} {message}" : $"{path}.{field} {message}");

    public string? String(string field)
    {
        if (!config.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
        {
            Error(field, "must be a non-empty string");
            return null;
        }

        return value.GetString();
    }

    public TimeSpan? Duration(string field)
    {
        var text = String(field);
        if (text is null)
        {
            return null;
        }

        if (!DurationText.TryParse(text, out var value))
        {
            Error(field, $"'{text}' is not a duration (like \"600s\", \"1.5s\", \"30m\" or \"24h\")");
            return null;
        }

        return value;
    }
}

/// <summary>Durations as bootstrap configs write them: protobuf JSON (<c>"600s"</c>, <c>"1.5s"</c>) or with units (<c>"30m"</c>, <c>"24h"</c>, <c>"1m30s"</c>, <c>"500ms"</c>).</summary>
internal static class DurationText
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var span = text.AsSpan().Trim();
        if (span.IsEmpty)
        {
            return false;
        }

        double ticks = 0;
        while (!span.IsEmpty)
        {
            var length = 0;
            while (length < span.Length && (char.IsAsciiDigit(span[length]) || span[length] == '.'))
            {
                length++;
            }

            if (length == 0 || !double.TryParse(span[..length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            span = span[length..];
            var unit = 0;
            while (unit < span.Length && char.IsAsciiLetter(span[unit]))
            {
                unit++;
            }

            double perUnit = span[..unit] switch
            {
                "h" => TimeSpan.TicksPerHour,
                "m" => TimeSpan.TicksPerMinute,
                "s" => TimeSpan.TicksPerSecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                _ => 0,
            };
            if (perUnit == 0)
            {
                return false;
            }

            ticks += number * perUnit;
            span = span[unit..];
        }

        if (ticks > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)ticks);
        return true;
    }
}
