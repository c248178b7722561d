using System.Diagnostics;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Xds;

namespace Mesh.LoadHarness;

/// <summary>
/// A client that never reads: on a connection of its own (as a separate, hung process would have) it subscribes to
/// every listener and every cluster (wildcard) and then never reads a response, while every 100 ms it switches its
/// cluster subscription between all clusters and one (as a confused, retrying client might), so every request asks
/// for a new full-state response and its HTTP/2 receive window fills within a few requests. The control plane has
/// to hold it at a bounded cost and disconnect it; <see cref="DisconnectedAfter"/> says when it did.
/// </summary>
internal sealed class StuckAdsClient(int id)
{
    private long _started;
    private long _ended;

    /// <summary>Requests written before the control plane reset the stream.</summary>
    public int Sent { get; private set; }

    /// <summary>Time from the first request until the control plane reset the stream, or null while it is connected.</summary>
    public TimeSpan? DisconnectedAfter => Volatile.Read(ref _ended) is var ended and not 0 ? Stopwatch.GetElapsedTime(_started, ended) : null;

    public async Task RunAsync(Uri address, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
        });
        using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources(cancellationToken: cancellationToken);
        var node = new Envoy.Config.Core.V3.Node { Id = $"stuck-{id}", Cluster = "stuck" };
        _started = Stopwatch.GetTimestamp();
        try
        {
            await call.RequestStream.WriteAsync(new DiscoveryRequest { Node = node, TypeUrl = XdsTypeUrls.Listener }, cancellationToken).ConfigureAwait(false);
            for (var i = 0; !cancellationToken.IsCancellationRequested; i++)
            {
                var clusters = new DiscoveryRequest { Node = node, TypeUrl = XdsTypeUrls.Cluster };
                clusters.ResourceNames.Add(i % 2 == 0 ? "*" : "outbound|9080||svc0.default.svc.cluster.local");
                await call.RequestStream.WriteAsync(clusters, cancellationToken).ConfigureAwait(false);
                Sent++;
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref _ended, Stopwatch.GetTimestamp()); // the control plane reset the stream.
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException && cancellationToken.IsCancellationRequested)
        {
        }
    }
}
