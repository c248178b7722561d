using Grpc.Net.Client.Balancer;
using Mesh.Client.Internal;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Policies;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Routing;

/// <summary>
/// Resolves <c>xds:///host:port</c> targets (the path names the xDS listener), and gives the channel its call path.
/// Grpc.Net.Client (2.85) hands the resolver factory the channel's <see cref="Grpc.Net.Client.GrpcChannelOptions"/>
/// before it builds its HTTP invoker from <c>HttpHandler</c>, so the factory installs the mesh's
/// <see cref="MeshCallHandler"/> there (below the channel's balancer): every channel to an <c>xds:///</c> target runs its
/// routes' faults, timeouts and retries, however it was built. A channel without a handler gets a SocketsHttpHandler
/// with the mesh connector, so its clusters can use mTLS too.
/// </summary>
internal sealed partial class XdsResolverFactory(XdsClientProvider clients, ILoggerFactory loggers, TimeProvider time, IOptions<MeshClientOptions> meshOptions, Telemetry.ClientTelemetry telemetry) : ResolverFactory
{
    private readonly ILogger _logger = loggers.CreateLogger<XdsResolverFactory>();

    public override string Name => "xds";

    public override Resolver Create(ResolverOptions options)
    {
        var target = options.Address.AbsolutePath.TrimStart('/');
        if (string.IsNullOrEmpty(target))
        {
            target = options.Address.Authority;
        }

        target = Uri.UnescapeDataString(target);
        var channel = options.ChannelOptions;
        ChannelPickers? pickers = null;
        if (channel.HttpClient is not null)
        {
            // The channel sends through the application's HttpClient: Grpc.Net.Client then has no handler of its own to
            // wrap (and no balancer below it), so Mesh cannot apply route policies there.
            Log.HttpClientChannel(_logger, target);
        }
        else
        {
            // Options used again for another channel still hold the call handler installed for the first one, whose
            // chain that channel may have disposed: start again from the handler the application gave (or none).
            var applicationHandler = channel.HttpHandler is MeshCallHandler reused ? reused.ApplicationHandler : channel.HttpHandler;
            var inner = applicationHandler;
            if (inner is null)
            {
                var sockets = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
                Transport.MeshConnector.TryInstallForGrpc(sockets);
                inner = sockets;
            }

            // Load reporting (A27) and telemetry per attempt (metadata exchange, sizes, the attempt's span) right below the call handler.
            if (inner is not LoadReporting.LoadReportingHandler)
            {
                if (inner is not Telemetry.MeshTelemetryHandler)
                {
                    inner = new Telemetry.MeshTelemetryHandler(telemetry) { InnerHandler = inner, ForChannel = true };
                }

                inner = new LoadReporting.LoadReportingHandler(time, inner);
            }

            pickers = new ChannelPickers { Telemetry = telemetry, Target = target };
            channel.HttpHandler = new MeshCallHandler(inner, pickers, time, meshOptions.Value.RetryBufferPerCallSize, loggers.CreateLogger<MeshCallHandler>())
            {
                ApplicationHandler = applicationHandler,
            };
        }

        var canSecure = Transport.MeshConnector.IsInstalled(channel.HttpHandler);
        return new XdsResolver(clients.Client, target, canSecure, loggers.CreateLogger<XdsResolver>(), pickers);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "The channel to 'xds:///{Target}' was given GrpcChannelOptions.HttpClient, so Mesh cannot apply its route policies (fault injection, timeouts, retries) on it. Fix: set GrpcChannelOptions.HttpHandler instead (or use new GrpcChannelOptions().UseMesh(services)).")]
        public static partial void HttpClientChannel(ILogger logger, string target);
    }
}
