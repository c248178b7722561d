using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Grpc.Net.Client;

namespace Mesh.Client.Transport;

/// <summary>
/// Secures connections per endpoint. Grpc.Net.Client's channel credentials are channel-wide, but in a mesh TLS is a
/// property of the destination cluster (gRFC A29), so the mesh picker attaches the picked cluster's
/// <see cref="ClusterTls"/> to the request, and this connector — the <see cref="SocketsHttpHandler.ConnectCallback"/>
/// of mesh channels — wraps the connection it opens in TLS with the workload certificate when the request carries
/// one, validating the server against the mesh's roots and the cluster's expected identities. The HTTP layer above
/// speaks plaintext HTTP/2 over it (the URI scheme stays http), and connections are pooled per endpoint.
/// </summary>
internal static class MeshConnector
{
    /// <summary>The request option that carries the picked cluster's TLS.</summary>
    public static readonly HttpRequestOptionsKey<ClusterTls> TlsOption = new("Mesh.ClusterTls");

    private static readonly Lazy<GrpcConnectHook> GrpcHook = new(GrpcConnectHook.Capture);
    private static readonly SslApplicationProtocol IstioPeerExchange = new("istio-peer-exchange");
    private static readonly SslApplicationProtocol Istio = new("istio");

    /// <summary>
    /// Makes <paramref name="handler"/> (the handler of a gRPC channel not yet built) secure connections for mesh
    /// clusters. Grpc.Net.Client installs its own callback, which hands over the socket its subchannel connected
    /// (so that it can watch connectivity); Mesh keeps that and layers TLS on the stream it returns. Returns false
    /// when the handler already has a callback of someone else's.
    /// </summary>
    public static bool TryInstallForGrpc(SocketsHttpHandler handler)
    {
        if (handler.ConnectCallback is not null)
        {
            return handler.ConnectCallback.Target is GrpcConnectHook;
        }

        var hook = GrpcHook.Value;
        handler.ConnectCallback = hook.ConnectAsync;
        foreach (var (key, value) in hook.Marks)
        {
            handler.Properties[key] = value;
        }

        return true;
    }

    /// <summary>Whether the handler chain ends in a SocketsHttpHandler with the mesh connector installed.</summary>
    public static bool IsInstalled(HttpMessageHandler? handler) =>
        FindSocketsHandler(handler)?.ConnectCallback is { Target: GrpcConnectHook } or { Method.Name: nameof(ConnectSocketAsync) };

    /// <summary>Makes <paramref name="handler"/> (of an HttpClient routed by the mesh) secure connections for mesh clusters.</summary>
    public static void InstallForHttp(SocketsHttpHandler handler) => handler.ConnectCallback ??= ConnectSocketAsync;

    /// <summary>Finds the <see cref="SocketsHttpHandler"/> at the bottom of a handler chain.</summary>
    public static SocketsHttpHandler? FindSocketsHandler(HttpMessageHandler? handler)
    {
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler;
        }

        return handler as SocketsHttpHandler;
    }

    /// <summary>Wraps <paramref name="inner"/> in TLS when the request's cluster asks for it.</summary>
    internal static async ValueTask<Stream> SecureAsync(Stream inner, SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        if (!context.InitialRequestMessage.Options.TryGetValue(TlsOption, out var tls))
        {
            return inner;
        }

        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            if (tls.Error is not null || tls.Roots is null)
            {
                throw new IOException(tls.Error ?? $"cluster '{tls.Cluster}' has no root certificates");
            }

            var roots = (await tls.Roots.WaitForCertificateAsync(cancellationToken).ConfigureAwait(false)).TrustedRoots;
            var own = tls.Identity is null ? null : await tls.Identity.WaitForCertificateAsync(cancellationToken).ConfigureAwait(false);
            string? failure = null;
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = tls.Resource.Sni,
                ApplicationProtocols = ApplicationProtocols(context.InitialRequestMessage.Version.Major >= 2, mutual: own is not null),
                ClientCertificateContext = own is null ? null : ClusterTls.ContextOf(own),
                CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                    PeerCertificateValidator.TryValidate(certificate, chain, roots, tls.SubjectAltNames, out _, out failure),
            };
            try
            {
                await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (AuthenticationException ex)
            {
                // An IOException: callers (gRPC: UNAVAILABLE) treat it as the connection failure it is.
                throw new IOException($"mTLS to {context.DnsEndPoint.Host}:{context.DnsEndPoint.Port} (cluster '{tls.Cluster}') failed: {failure ?? ex.Message}", ex);
            }

            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The ALPN values offered. On mesh mutual TLS, Istio's mesh values come first, as istio-proxy offers them
    /// (<c>istio-peer-exchange</c>, <c>istio</c>), then the HTTP version: an Envoy sidecar's PERMISSIVE inbound chain
    /// recognises mesh mTLS by those values, so without them a proxyless client cannot reach it (Istio's documented
    /// limitation for gRPC clients). Servers choose the HTTP version from the list as always.
    /// </summary>
    internal static List<SslApplicationProtocol> ApplicationProtocols(bool http2, bool mutual)
    {
        var version = http2 ? SslApplicationProtocol.Http2 : SslApplicationProtocol.Http11;
        return mutual ? [IstioPeerExchange, Istio, version] : [version];
    }

    private static async ValueTask<Stream> ConnectSocketAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return await SecureAsync(new NetworkStream(socket, ownsSocket: true), context, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Grpc.Net.Client's own connect callback, captured once from a probe channel, with TLS layered on.</summary>
    private sealed class GrpcConnectHook
    {
        private readonly Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> _grpc;

        private GrpcConnectHook(Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> grpc, KeyValuePair<string, object?>[] marks)
        {
            _grpc = grpc;
            Marks = marks;
        }

        /// <summary>The handler properties by which Grpc.Net.Client recognises a handler it has set up.</summary>
        public KeyValuePair<string, object?>[] Marks { get; }

        public static GrpcConnectHook Capture()
        {
            using var probe = new SocketsHttpHandler();
            using (GrpcChannel.ForAddress("http://127.0.0.1:1", new GrpcChannelOptions { HttpHandler = probe, DisposeHttpClient = false }))
            {
            }

            var grpc = probe.ConnectCallback
                ?? throw new InvalidOperationException("Grpc.Net.Client did not install its connection callback on the channel's SocketsHttpHandler; mesh mTLS needs a version that does (2.85 is tested).");
            return new GrpcConnectHook(grpc, [.. probe.Properties]);
        }

        public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
        {
            var stream = await _grpc(context, cancellationToken).ConfigureAwait(false);
            return await SecureAsync(stream, context, cancellationToken).ConfigureAwait(false);
        }
    }
}
