using System.Globalization;

namespace Mesh.Xds;

/// <summary>
/// Resource-name conventions shared by Mesh's control plane and clients. Cluster names follow Istio's
/// <c>outbound|&lt;port&gt;|&lt;subset&gt;|&lt;host&gt;</c> form, so that Istio tooling and dashboards read them.
/// </summary>
public static class XdsResourceNames
{
    private const string OutboundPrefix = "outbound|";
    private const char Separator = '|';

    /// <summary>
    /// Builds the name of the outbound cluster for a service port and optional subset, e.g.
    /// <c>outbound|9080|v1|reviews.default.svc.cluster.local</c>.
    /// </summary>
    /// <param name="port">The service port, 1-65535.</param>
    /// <param name="subset">The subset name (e.g. a version), or <see langword="null"/> for the whole service.</param>
    /// <param name="host">The fully qualified service host name.</param>
    /// <returns>The cluster name.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not a valid port.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="host"/> is empty, or <paramref name="host"/> or <paramref name="subset"/> contains '|'.
    /// </exception>
    public static string ClusterName(int port, string? subset, string host)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ArgumentException.ThrowIfNullOrEmpty(host);
        if (host.Contains(Separator, StringComparison.Ordinal))
        {
            throw new ArgumentException("The host must not contain '|'.", nameof(host));
        }

        subset ??= string.Empty;
        if (subset.Contains(Separator, StringComparison.Ordinal))
        {
            throw new ArgumentException("The subset must not contain '|'.", nameof(subset));
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"{OutboundPrefix}{port}{Separator}{subset}{Separator}{host}");
    }

    /// <summary>
    /// Parses a cluster name built by <see cref="ClusterName(int, string?, string)"/>.
    /// </summary>
    /// <param name="clusterName">The name to parse.</param>
    /// <param name="port">The service port, or 0 when parsing fails.</param>
    /// <param name="subset">The subset name (empty for the whole service), or empty when parsing fails.</param>
    /// <param name="host">The service host name, or empty when parsing fails.</param>
    /// <returns><see langword="true"/> when <paramref name="clusterName"/> is a well-formed outbound cluster name.</returns>
    public static bool TryParseClusterName(string? clusterName, out int port, out string subset, out string host)
    {
        port = 0;
        subset = string.Empty;
        host = string.Empty;

        if (clusterName is null || !clusterName.StartsWith(OutboundPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = clusterName.AsSpan(OutboundPrefix.Length);
        var portEnd = rest.IndexOf(Separator);
        if (portEnd < 0
            || !int.TryParse(rest[..portEnd], NumberStyles.None, CultureInfo.InvariantCulture, out var parsedPort)
            || parsedPort is < 1 or > 65535)
        {
            return false;
        }

        rest = rest[(portEnd + 1)..];
        var subsetEnd = rest.IndexOf(Separator);
        if (subsetEnd < 0)
        {
            return false;
        }

        var hostSpan = rest[(subsetEnd + 1)..];
        if (hostSpan.IsEmpty || hostSpan.Contains(Separator))
        {
            return false;
        }

        port = parsedPort;
        subset = rest[..subsetEnd].ToString();
        host = hostSpan.ToString();
        return true;
    }
}
