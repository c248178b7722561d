using System.IO.Pipelines;
using System.Net.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Mesh.Server.Security;

/// <summary>
/// What a Kestrel connection middleware that terminates TLS itself needs (Mesh.Server's and the gateway's): the ALPN
/// list for the endpoint's protocols and the decrypted pipes that replace the connection's transport.
/// </summary>
internal static class TlsConnection
{
    /// <summary>The application protocols to offer in ALPN for <paramref name="protocols"/>, HTTP/2 first.</summary>
    public static List<SslApplicationProtocol> ApplicationProtocols(HttpProtocols protocols)
    {
        var list = new List<SslApplicationProtocol>(2);
        if ((protocols & HttpProtocols.Http2) != 0)
        {
            list.Add(SslApplicationProtocol.Http2);
        }

        if ((protocols & HttpProtocols.Http1) != 0)
        {
            list.Add(SslApplicationProtocol.Http11);
        }

        return list;
    }

    /// <summary>The connection's transport after the handshake: pipes over the <see cref="SslStream"/>.</summary>
    public sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        /// <inheritdoc />
        public PipeReader Input { get; } = input;

        /// <inheritdoc />
        public PipeWriter Output { get; } = output;
    }
}
