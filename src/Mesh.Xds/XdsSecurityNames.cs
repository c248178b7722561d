using System.Globalization;

namespace Mesh.Xds;

/// <summary>
/// Names shared by the control plane and the libraries for transport security and xDS-enabled servers (gRFCs A29
/// and A36): the TLS transport socket, the certificate provider instance every workload's bootstrap defines, and
/// the name template of a server's inbound listener.
/// </summary>
public static class XdsSecurityNames
{
    /// <summary>The transport socket name of TLS.</summary>
    public const string TlsTransportSocket = "envoy.transport_sockets.tls";

    /// <summary>
    /// The certificate provider instance (a key of the bootstrap's <c>certificate_providers</c>) that holds the
    /// workload's certificate and the mesh's roots.
    /// </summary>
    public const string DefaultCertificateProvider = "default";

    /// <summary>The certificate name of the workload's own certificate within a provider.</summary>
    public const string IdentityCertificateName = "default";

    /// <summary>The certificate name of the trusted roots within a provider.</summary>
    public const string RootCertificateName = "ROOTCA";

    /// <summary>The transport protocol a TLS connection is detected as, in a filter chain match.</summary>
    public const string TlsTransportProtocol = "tls";

    /// <summary>The transport protocol a plaintext connection is detected as, in a filter chain match.</summary>
    public const string RawBufferTransportProtocol = "raw_buffer";

    /// <summary>
    /// The default <c>server_listener_resource_name_template</c>: <c>%s</c> stands for the listening address as
    /// <c>ip:port</c> (gRFC A36).
    /// </summary>
    public const string ServerListenerNameTemplate = "grpc/server?xds.resource.listening_address=%s";

    private const string ServerListenerPrefix = "grpc/server?xds.resource.listening_address=";

    /// <summary>The inbound listener name for <paramref name="host"/>:<paramref name="port"/> from a template.</summary>
    public static string ServerListenerName(string host, int port, string? template = null)
    {
        var address = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}" : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";
        return (template ?? ServerListenerNameTemplate).Replace("%s", address, StringComparison.Ordinal);
    }

    /// <summary>Reads the address out of a listener name made with the default template.</summary>
    public static bool TryParseServerListenerName(string name, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        if (!name.StartsWith(ServerListenerPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var address = name.AsSpan(ServerListenerPrefix.Length);
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            return false;
        }

        host = address[..colon].Trim("[]").ToString();
        return host.Length > 0;
    }
}
