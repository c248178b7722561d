using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Xds;

/// <summary>The ADS gRPC service: each stream becomes a <see cref="SotwConnection"/> or a <see cref="DeltaConnection"/>.</summary>
internal sealed class AggregatedDiscoveryServiceImpl : AggregatedDiscoveryService.AggregatedDiscoveryServiceBase
{
    private readonly XdsResourceCache _cache;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;

    public AggregatedDiscoveryServiceImpl(XdsResourceCache cache, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<AggregatedDiscoveryServiceImpl> logger)
    {
        _cache = cache;
        _time = time;
        _logger = logger;
        _stopping = lifetime.ApplicationStopping;
    }

    public override Task StreamAggregatedResources(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        Run(token => new SotwConnection(_cache, responseStream, _time, _logger, context.Peer).RunAsync(requestStream, token), context);

    public override Task DeltaAggregatedResources(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        Run(token => new DeltaConnection(_cache, responseStream, _time, _logger, context.Peer).RunAsync(requestStream, token), context);

    // A stream ends when the client goes away or the control plane shuts down; on shutdown clients see the stream
    // end at once (UNAVAILABLE) and reconnect, rather than the host waiting for them.
    private async Task Run(Func<CancellationToken, Task> stream, ServerCallContext context)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopping);
        try
        {
            await stream(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the control plane is shutting down"));
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (IOException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client went away mid-write.
        }
    }
}
