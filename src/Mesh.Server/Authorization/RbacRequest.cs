using System.Net;
using Microsoft.AspNetCore.Http;

namespace Mesh.Server.Authorization;

/// <summary>
/// What the RBAC engine (gRFC A41) looks at for one request. Built per request from values the server already has;
/// the peer (<see cref="RbacPeer"/>) is computed once per connection.
/// </summary>
internal readonly struct RbacRequest
{
    /// <summary>The HTTP method (<c>:method</c>); gRPC calls are <c>POST</c>.</summary>
    public required string Method { get; init; }

    /// <summary>The request path without query (<c>:path</c> and <c>url_path</c>): for gRPC <c>/package.Service/Method</c>.</summary>
    public required string Path { get; init; }

    /// <summary>The request's <c>:authority</c> (or <c>Host</c>), or <see langword="null"/> when it has none.</summary>
    public string? Authority { get; init; }

    /// <summary>The request headers (gRPC metadata included); lookups are case-insensitive.</summary>
    public IHeaderDictionary? Headers { get; init; }

    /// <summary>The local address the connection was accepted on (<c>destination_ip</c>).</summary>
    public IPAddress? LocalAddress { get; init; }

    /// <summary>The local port the connection was accepted on (<c>destination_port</c>).</summary>
    public int LocalPort { get; init; }

    /// <summary>The peer's address (<c>direct_remote_ip</c> and <c>remote_ip</c>: A41 treats them alike).</summary>
    public IPAddress? RemoteAddress { get; init; }

    /// <summary>The peer's identity; <see cref="RbacPeer.Plaintext"/> for a connection without TLS.</summary>
    public required RbacPeer Peer { get; init; }

    /// <summary>
    /// The value of a header as A41 defines it for RBAC: <c>:method</c>, <c>:path</c> and <c>:authority</c> (alias
    /// <c>host</c>) are available, several values are joined with <c>,</c>, <c>te</c> and other pseudo-headers never
    /// match. <paramref name="name"/> is lower-case.
    /// </summary>
    public string? GetHeader(string name)
    {
        if (name.Length > 0 && name[0] == ':')
        {
            return name switch
            {
                ":method" => Method,
                ":path" => Path,
                ":authority" => Authority,
                _ => null,
            };
        }

        if (name == "host")
        {
            return Authority;
        }

        if (name == "te" || Headers is null || !Headers.TryGetValue(name, out var values) || values.Count == 0)
        {
            return null;
        }

        return values.Count == 1 ? values[0] : values.ToString();
    }
}
