using Mesh.Gateway.Configuration;
using Mesh.Gateway.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Gateway.Hosting;

/// <summary>
/// Opens a Kestrel endpoint per server port of <see cref="MeshGatewayOptions.Listeners"/>. Start-up waits (bounded by
/// <see cref="MeshGatewayOptions.FirstConfigurationWait"/>) for the ports' first listeners, as an Envoy gateway waits for
/// LDS: a plaintext port whose servers are all GRPC or HTTP2 speaks HTTP/2 only (h2c, which Kestrel cannot detect
/// next to HTTP/1.1 without TLS); every other port speaks HTTP/1.1 and, over TLS, HTTP/2 by ALPN. TLS itself is
/// decided per connection by <see cref="GatewayConnectionMiddleware"/>.
/// </summary>
internal sealed partial class GatewayKestrelSetup(
    IOptions<MeshGatewayOptions> options,
    GatewayXdsConfiguration configuration,
    GatewayCertificates certificates,
    ILogger<GatewayKestrelSetup> logger) : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions kestrel)
    {
        var wait = options.Value.FirstConfigurationWait;
        configuration.Start();
        var first = options.Value.Listeners.Keys.ToDictionary(static p => p, p => configuration.WaitForListenerAsync(p, wait, CancellationToken.None));
        Task.WhenAll(first.Values).GetAwaiter().GetResult();
        foreach (var (port, endpoint) in options.Value.Listeners)
        {
            var listener = first[port].Result;
            var protocols = listener is { Http2Only: true, Tls: null } ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2;
            if (listener is null)
            {
                Log.NoListenerYet(logger, port, wait.TotalSeconds);
            }

            var state = configuration.Ports[port];
            kestrel.Listen(endpoint, listen =>
            {
                state.ListenOptions = listen;
                listen.Protocols = protocols;
                listen.Use(next => new GatewayConnectionMiddleware(next, state, protocols, configuration, certificates, wait, logger).OnConnectionAsync);
            });
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "No listener for gateway port {Port} within {Seconds} s; it opens for HTTP/1.1 and HTTP/2 over TLS, and serves once its configuration arrives.")]
        public static partial void NoListenerYet(ILogger logger, int port, double seconds);
    }
}
