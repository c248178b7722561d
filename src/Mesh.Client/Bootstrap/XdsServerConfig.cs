using System.Text.Json;

namespace Mesh.Client.Bootstrap;

/// <summary>One xDS management server from the bootstrap's <c>xds_servers</c> list.</summary>
public sealed record XdsServerConfig
{
    /// <summary>The <c>channel_creds</c> type for plaintext HTTP/2 (h2c).</summary>
    public const string InsecureCredentials = "insecure";

    /// <summary>The <c>channel_creds</c> type for TLS with the system's trusted roots.</summary>
    public const string TlsCredentials = "tls";

    /// <summary>
    /// The server feature that makes the client ignore deletions of listeners and clusters (gRFC A53): a resource
    /// missing from a response keeps its last good version.
    /// </summary>
    public const string IgnoreResourceDeletionFeature = "ignore_resource_deletion";

    /// <summary>
    /// The server's address as written in the bootstrap: <c>host:port</c>, <c>dns:///host:port</c>, or a full
    /// <c>http://</c> or <c>https://</c> URI.
    /// </summary>
    public required string ServerUri { get; init; }

    /// <summary>
    /// The first supported <c>channel_creds</c> type: <see cref="InsecureCredentials"/> or <see cref="TlsCredentials"/>.
    /// </summary>
    public required string ChannelCredentialsType { get; init; }

    /// <summary>The <c>config</c> object of the chosen channel credentials, if any.</summary>
    public JsonElement? ChannelCredentialsConfig { get; init; }

    /// <summary>The <c>call_creds</c> type that sends a JWT read from a file (gRFC A97).</summary>
    public const string JwtTokenFileCallCredentials = "jwt_token_file";

    /// <summary>
    /// The file of the <c>jwt_token_file</c> call credentials (gRFC A97), or null: its content is sent as
    /// <c>authorization: Bearer …</c> on every ADS stream, read again for each stream so a rotated token is used. Only
    /// with <see cref="TlsCredentials"/>.
    /// </summary>
    public string? CallCredentialsTokenFile { get; init; }

    /// <summary>The server's <c>server_features</c>.</summary>
    public IReadOnlyList<string> ServerFeatures { get; init; } = [];

    /// <summary>Whether <see cref="IgnoreResourceDeletionFeature"/> is among <see cref="ServerFeatures"/>.</summary>
    public bool IgnoreResourceDeletion => ServerFeatures.Contains(IgnoreResourceDeletionFeature, StringComparer.Ordinal);

    /// <summary>
    /// The HTTP/2 address to open the ADS stream on: <c>http://</c> + <see cref="ServerUri"/> for insecure credentials,
    /// <c>https://</c> for TLS. A <c>dns:///</c> prefix is dropped; a full <c>http(s)://</c> URI is used as written.
    /// </summary>
    /// <returns>The address.</returns>
    /// <exception cref="UriFormatException"><see cref="ServerUri"/> is not a valid address.</exception>
    public Uri GetAddress()
    {
        if (!TryGetAddress(ServerUri, ChannelCredentialsType, out var address))
        {
            throw new UriFormatException($"'{ServerUri}' is not a valid xDS server address.");
        }

        return address;
    }

    internal static bool TryGetAddress(string serverUri, string credentialsType, out Uri address)
    {
        var target = serverUri.Trim();
        if (target.StartsWith("dns:///", StringComparison.OrdinalIgnoreCase))
        {
            target = target[7..];
        }
        else if (target.StartsWith("dns:", StringComparison.OrdinalIgnoreCase))
        {
            target = target[4..];
        }

        if (!target.Contains("://", StringComparison.Ordinal))
        {
            var scheme = credentialsType == TlsCredentials ? Uri.UriSchemeHttps : Uri.UriSchemeHttp;
            target = scheme + "://" + target;
        }

        if (Uri.TryCreate(target, UriKind.Absolute, out var parsed)
            && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps)
            && parsed.Host.Length > 0)
        {
            address = parsed;
            return true;
        }

        address = null!;
        return false;
    }
}
