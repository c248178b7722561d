using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Resources;
using Mesh.Client.Security;
using Mesh.Client.Transport;
using Mesh.Server.Authorization;
using Mesh.Server.Listeners;
using Mesh.Xds;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Mesh.Server.Security;

/// <summary>What the mesh decided about a connection, for the request pipeline.</summary>
internal sealed class MeshConnectionFeature(ServerListenerWatcher listener, bool isTls, SpiffeId? peer, RbacPeer rbacPeer, SpiffeId? local = null) : IMeshPeerIdentityFeature
{
    /// <summary>The identity this server presented on the connection (its workload certificate's SPIFFE ID), if TLS.</summary>
    public SpiffeId? LocalIdentity { get; } = local;

    public ServerListenerWatcher Listener { get; } = listener;

    public bool IsTls { get; } = isTls;

    public SpiffeId? PeerIdentity { get; } = peer;

    public bool IsMutualTls => IsTls && RbacPeer.HasCertificate;

    public RbacPeer RbacPeer { get; } = rbacPeer;
}

/// <summary>
/// The Kestrel connection middleware of an xDS-enabled server (gRFCs A29, A36). For each connection it finds the
/// listener of its listening address, tells TLS from plaintext by the first byte (a TLS record starts with 0x16),
/// picks the filter chain for that (PeerAuthentication: STRICT has only a TLS chain, PERMISSIVE both, DISABLE only
/// plaintext), closes connections no chain takes, and terminates TLS with the workload certificate current at that
/// moment (so rotation needs no restart), requiring and validating a client certificate from the mesh's roots.
/// </summary>
internal sealed partial class MeshConnectionMiddleware
{
    private static readonly TimeSpan ConfigurationWait = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly ConnectionDelegate _next;
    private readonly ListenOptions _listenOptions;
    private readonly ServerListenerRegistry _listeners;
    private readonly CertificateProviderStore? _certificates;
    private readonly ILogger _logger;

    public MeshConnectionMiddleware(ConnectionDelegate next, ListenOptions listenOptions, ServerListenerRegistry listeners, CertificateProviderStore? certificates, ILogger logger)
    {
        _next = next;
        _listenOptions = listenOptions;
        _listeners = listeners;
        _certificates = certificates;
        _logger = logger;
    }

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        // The listening address names the listener (A36); with port 0 Kestrel has filled in the bound port by now.
        var endpoint = _listenOptions.IPEndPoint ?? context.LocalEndPoint as IPEndPoint;
        if (endpoint is null)
        {
            await _next(context).ConfigureAwait(false);
            return;
        }

        var listener = _listeners.For(endpoint);
        var config = await listener.GetAsync(ConfigurationWait, context.ConnectionClosed).ConfigureAwait(false);
        if (config is null)
        {
            Log.NotServing(_logger, context.RemoteEndPoint, listener.Name, listener.LastError ?? "no configuration yet");
            context.Abort(new ConnectionAbortedException("not serving: no listener configuration"));
            return;
        }

        bool isTls;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed))
        {
            timeout.CancelAfter(HandshakeTimeout);
            try
            {
                var read = await context.Transport.Input.ReadAsync(timeout.Token).ConfigureAwait(false);
                if (read.Buffer.IsEmpty)
                {
                    context.Transport.Input.AdvanceTo(read.Buffer.Start);
                    return;
                }

                isTls = read.Buffer.FirstSpan[0] == 0x16;

                // Nothing consumed or examined: the next read (TLS or HTTP) sees the same bytes at once.
                context.Transport.Input.AdvanceTo(read.Buffer.Start);
            }
            catch (OperationCanceledException)
            {
                context.Abort();
                return;
            }
        }

        var chain = config.Select(isTls);
        if (chain is null)
        {
            Log.Refused(_logger, context.RemoteEndPoint, isTls ? "TLS" : "plaintext", listener.Name);
            context.Abort(new ConnectionAbortedException(isTls ? "TLS is not accepted here" : "plaintext is not accepted here (mTLS required)"));
            return;
        }

        if (!isTls)
        {
            context.Features.Set(new MeshConnectionFeature(listener, isTls: false, peer: null, RbacPeer.Plaintext));
            await ServeAsync(context, listener, isTls: false).ConfigureAwait(false);
            return;
        }

        await ServeTlsAsync(context, listener, chain.Tls!).ConfigureAwait(false);
    }

    private async Task ServeTlsAsync(ConnectionContext context, ServerListenerWatcher listener, DownstreamTlsResource tls)
    {
        var identityProvider = _certificates?.Get(tls.IdentityProvider);
        var rootProvider = tls.RootProvider is { } rootName ? _certificates?.Get(rootName) : null;
        if (identityProvider is null || (tls.RootProvider is not null && rootProvider is null))
        {
            Log.NoCertificateProvider(_logger, listener.Name, identityProvider is null ? tls.IdentityProvider : tls.RootProvider!);
            context.Abort();
            return;
        }

        var sslStream = new SslStream(new DuplexPipeStream(context.Transport), leaveInnerStreamOpen: false);
        SpiffeId? peer = null;
        SpiffeId? local = null;
        string? failure = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
            timeout.CancelAfter(HandshakeTimeout);
            var own = await identityProvider.WaitForCertificateAsync(timeout.Token).ConfigureAwait(false);
            local = own.Identity;
            var roots = rootProvider is null ? [] : (await rootProvider.WaitForCertificateAsync(timeout.Token).ConfigureAwait(false)).TrustedRoots;
            var options = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = ClusterTls.ContextOf(own),
                ClientCertificateRequired = tls.RequireClientCertificate,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                ApplicationProtocols = TlsConnection.ApplicationProtocols(_listenOptions.Protocols),
                RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                {
                    if (certificate is null)
                    {
                        failure = tls.RequireClientCertificate ? "the client presented no certificate" : null;
                        return !tls.RequireClientCertificate;
                    }

                    return PeerCertificateValidator.TryValidate(certificate, chain, roots, tls.SubjectAltNames, out peer, out failure);
                },
            };
            await sslStream.AuthenticateAsServerAsync(options, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
        {
            Log.HandshakeFailed(_logger, context.RemoteEndPoint, listener.Name, failure ?? ex.Message);
            await sslStream.DisposeAsync().ConfigureAwait(false);
            context.Abort();
            return;
        }

        var clientCertificate = sslStream.RemoteCertificate as X509Certificate2;
        var tlsFeature = new TerminatedTlsFeature(sslStream.NegotiatedApplicationProtocol.Protocol, clientCertificate);
        context.Features.Set<ITlsConnectionFeature>(tlsFeature);
        context.Features.Set<ITlsApplicationProtocolFeature>(tlsFeature);
        context.Features.Set(new MeshConnectionFeature(listener, isTls: true, peer, RbacPeer.FromCertificate(clientCertificate), local));

        var original = context.Transport;
        var reader = PipeReader.Create(sslStream, new StreamPipeReaderOptions(leaveOpen: true));
        var writer = PipeWriter.Create(sslStream, new StreamPipeWriterOptions(leaveOpen: true));
        context.Transport = new TlsConnection.Transport(reader, writer);
        try
        {
            await ServeAsync(context, listener, isTls: true).ConfigureAwait(false);
        }
        finally
        {
            context.Transport = original;
            await reader.CompleteAsync().ConfigureAwait(false);
            await writer.CompleteAsync().ConfigureAwait(false);
            await sslStream.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Serves the connection; if a new listener configuration no longer takes it (PERMISSIVE → STRICT for a plaintext
    // connection, say), asks the client to go away (HTTP/2 GOAWAY; requests in flight finish), so its next requests
    // open a connection under its own new configuration instead of failing on this one.
    private async Task ServeAsync(ConnectionContext context, ServerListenerWatcher listener, bool isTls)
    {
        var lifetime = context.Features.Get<IConnectionLifetimeNotificationFeature>();
        var remote = context.RemoteEndPoint;
        void OnChanged()
        {
            if (listener.Current?.Select(isTls) is null)
            {
                Log.Draining(_logger, remote, isTls ? "TLS" : "plaintext", listener.Name);
                lifetime?.RequestClose();
            }
        }

        listener.Changed += OnChanged;
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        finally
        {
            listener.Changed -= OnChanged;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Connection from {Remote} closed: not serving on {Listener} ({Reason}).")]
        public static partial void NotServing(ILogger logger, EndPoint? remote, string listener, string reason);

        [LoggerMessage(2, LogLevel.Information, "Connection from {Remote} refused: {Kind} is not accepted by {Listener}.")]
        public static partial void Refused(ILogger logger, EndPoint? remote, string kind, string listener);

        [LoggerMessage(3, LogLevel.Information, "TLS handshake with {Remote} on {Listener} failed: {Reason}.")]
        public static partial void HandshakeFailed(ILogger logger, EndPoint? remote, string listener, string reason);

        [LoggerMessage(5, LogLevel.Information, "Closing the {Kind} connection from {Remote}: {Listener} no longer accepts it (GOAWAY).")]
        public static partial void Draining(ILogger logger, EndPoint? remote, string kind, string listener);

        [LoggerMessage(4, LogLevel.Error, "Listener {Listener} needs certificate provider instance '{Instance}', which the bootstrap does not define; connection closed.")]
        public static partial void NoCertificateProvider(ILogger logger, string listener, string instance);
    }
}
