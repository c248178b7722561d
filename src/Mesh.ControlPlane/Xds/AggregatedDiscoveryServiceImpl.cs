using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Xds;

/// <summary>The ADS gRPC service: each stream becomes a <see cref="SotwConnection"/> or a <see cref="DeltaConnection"/>.</summary>
internal sealed class AggregatedDiscoveryServiceImpl : AggregatedDiscoveryService.AggregatedDiscoveryServiceBase
{
    private readonly XdsResourceCache _cache;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public AggregatedDiscoveryServiceImpl(XdsResourceCache cache, TimeProvider time, ILogger<AggregatedDiscoveryServiceImpl> logger)
    {
        _cache = cache;
        _time = time;
        _logger = logger;
    }

    public override Task StreamAggregatedResources(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        Run(() => new SotwConnection(_cache, responseStream, _time, _logger, context.Peer).RunAsync(requestStream, context.CancellationToken), context);

    public override Task DeltaAggregatedResources(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        Run(() => new DeltaConnection(_cache, responseStream, _time, _logger, context.Peer).RunAsync(requestStream, context.CancellationToken), context);

    private static async Task Run(Func<Task> stream, ServerCallContext context)
    {
        try
        {
            await stream().ConfigureAwait(false);
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
