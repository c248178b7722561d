using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Mesh.Gateway.Configuration;
using Mesh.Gateway.Security;
using Mesh.Server.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace Mesh.Gateway.Hosting;

/// <summary>
/// The Kestrel connection middleware of one Gateway server port. Each connection is served as the port's listener in
/// force says: plaintext, or TLS terminated with the certificate it names at that moment (so certificate files and
/// SIMPLE ↔ MUTUAL changes apply to new connections without a restart), requiring and verifying a client
/// certificate against the listener's CA certificates under MUTUAL. A port with no listener takes no connection.
/// </summary>
internal sealed partial class GatewayConnectionMiddleware(
    ConnectionDelegate next,
    GatewayPort port,
    HttpProtocols protocols,
    GatewayXdsConfiguration configuration,
    GatewayCertificates certificates,
    TimeSpan configurationWait,
    ILogger logger)
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        var listener = configuration.Current(port.Port)
            ?? await configuration.WaitForListenerAsync(port.Port, configurationWait, context.ConnectionClosed).ConfigureAwait(false);
        if (listener is null)
        {
            Log.NotServing(logger, context.RemoteEndPoint, port.ListenerName, port.Error ?? "no configuration yet");
            context.Abort(new ConnectionAbortedException("not serving: no gateway listener configuration"));
            return;
        }

        if (listener.Tls is not { } tls)
        {
            context.Features.Set(new GatewayConnectionFeature(port.PortText, IsTls: false));
            await next(context).ConfigureAwait(false);
            return;
        }

        if (!certificates.TryGetServerCertificate(tls.CertificateName, out var serverCertificate, out var error)
            || (tls.RootName is { } rootName && !certificates.TryGetRoots(rootName, out _, out error)))
        {
            Log.NotServing(logger, context.RemoteEndPoint, port.ListenerName, error!);
            context.Abort(new ConnectionAbortedException("not serving: " + error));
            return;
        }

        X509Certificate2Collection? roots = null;
        if (tls.RootName is { } root)
        {
            certificates.TryGetRoots(root, out roots, out _);
        }

        var sslStream = new SslStream(new DuplexPipeStream(context.Transport), leaveInnerStreamOpen: false);
        string? failure = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
            timeout.CancelAfter(HandshakeTimeout);
            var options = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = serverCertificate,
                ClientCertificateRequired = tls.RequireClientCertificate,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                ApplicationProtocols = TlsConnection.ApplicationProtocols(protocols),
                RemoteCertificateValidationCallback = (_, certificate, _, _) => Verify(certificate, tls.RequireClientCertificate, roots, out failure),
            };
            await sslStream.AuthenticateAsServerAsync(options, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
        {
            Log.HandshakeFailed(logger, context.RemoteEndPoint, port.ListenerName, failure ?? ex.Message);
            await sslStream.DisposeAsync().ConfigureAwait(false);
            context.Abort();
            return;
        }

        var tlsFeature = new TerminatedTlsFeature(sslStream.NegotiatedApplicationProtocol.Protocol, sslStream.RemoteCertificate as X509Certificate2);
        context.Features.Set<ITlsConnectionFeature>(tlsFeature);
        context.Features.Set<ITlsApplicationProtocolFeature>(tlsFeature);
        context.Features.Set(new GatewayConnectionFeature(port.PortText, IsTls: true));

        var original = context.Transport;
        var reader = PipeReader.Create(sslStream, new StreamPipeReaderOptions(leaveOpen: true));
        var writer = PipeWriter.Create(sslStream, new StreamPipeWriterOptions(leaveOpen: true));
        context.Transport = new TlsConnection.Transport(reader, writer);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Transport = original;
            await reader.CompleteAsync().ConfigureAwait(false);
            await writer.CompleteAsync().ConfigureAwait(false);
            await sslStream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Under MUTUAL, a client certificate must be present and chain to <paramref name="roots"/> (and no other root).</summary>
    internal static bool Verify(X509Certificate? certificate, bool required, X509Certificate2Collection? roots, out string? failure)
    {
        failure = null;
        if (!required)
        {
            return true;
        }

        if (certificate is null)
        {
            failure = "the client presented no certificate (MUTUAL)";
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (roots is not null)
        {
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        }

        var presented = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (!chain.Build(presented))
        {
            failure = "the client certificate does not chain to the server's caCertificates: " + string.Join("; ", chain.ChainStatus.Select(static s => s.StatusInformation.Trim()));
            return false;
        }

        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Connection from {Remote} closed: {Listener} is not serving ({Reason}).")]
        public static partial void NotServing(ILogger logger, EndPoint? remote, string listener, string reason);

        [LoggerMessage(2, LogLevel.Information, "TLS handshake with {Remote} on {Listener} failed: {Reason}.")]
        public static partial void HandshakeFailed(ILogger logger, EndPoint? remote, string listener, string reason);
    }
}
