using Envoy.Service.LoadStats.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane.LoadReporting;

/// <summary>
/// The LRS server (<c>envoy.service.load_stats.v3.LoadReportingService</c>): asks each client for every cluster's
/// load at <see cref="ControlPlaneOptions.LoadReportingInterval"/> and records what arrives in the <see cref="LoadReportStore"/>.
/// </summary>
internal sealed partial class LoadReportingServiceImpl : LoadReportingService.LoadReportingServiceBase
{
    private readonly LoadReportStore _store;
    private readonly TimeSpan _interval;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;

    public LoadReportingServiceImpl(LoadReportStore store, IOptions<ControlPlaneOptions> options, IHostApplicationLifetime lifetime, ILogger<LoadReportingServiceImpl> logger)
    {
        _store = store;
        _interval = options.Value.LoadReportingInterval;
        _logger = logger;
        _stopping = lifetime.ApplicationStopping;
    }

    public override async Task StreamLoadStats(
        IAsyncStreamReader<LoadStatsRequest> requestStream, IServerStreamWriter<LoadStatsResponse> responseStream, ServerCallContext context)
    {
        // A stream ends when the control plane stops (UNAVAILABLE: the client reconnects elsewhere or later), so a
        // shutdown does not wait for every client's stream to time out.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopping);
        try
        {
            await StreamAsync(requestStream, responseStream, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the control plane is shutting down"));
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (IOException)
        {
            // The client reset its stream or lost the connection: a normal end of a load-reporting stream (it reconnects
            // if it still reports), not a failure of the service method for grpc-dotnet to log as an error.
            Log.Reset(_logger, context.Peer);
        }
    }

    private async Task StreamAsync(IAsyncStreamReader<LoadStatsRequest> requestStream, IServerStreamWriter<LoadStatsResponse> responseStream, CancellationToken cancellation)
    {
        if (!await requestStream.MoveNext(cancellation).ConfigureAwait(false))
        {
            return;
        }

        var node = requestStream.Current.Node;
        if (node is null || string.IsNullOrEmpty(node.Id))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "LoadStatsRequest.node: the first request must name the node (node.id)"));
        }

        Log.Started(_logger, node.Id);
        if (requestStream.Current.ClusterStats.Count > 0)
        {
            _store.Record(node, requestStream.Current.ClusterStats);
        }

        await responseStream.WriteAsync(
            new LoadStatsResponse { SendAllClusters = true, LoadReportingInterval = Duration.FromTimeSpan(_interval) }, cancellation).ConfigureAwait(false);
        try
        {
            while (await requestStream.MoveNext(cancellation).ConfigureAwait(false))
            {
                var request = requestStream.Current;
                if (request.Node is { Id.Length: > 0 } named && named.Id != node.Id)
                {
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "LoadStatsRequest.node: a stream reports for one node"));
                }

                _store.Record(node, request.ClusterStats);
            }
        }
        finally
        {
            Log.Ended(_logger, node.Id);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Load reporting stream from {Node} started")]
        public static partial void Started(ILogger logger, string node);

        [LoggerMessage(2, LogLevel.Debug, "Load reporting stream from {Node} ended")]
        public static partial void Ended(ILogger logger, string node);

        [LoggerMessage(3, LogLevel.Debug, "Load reporting stream from {Peer} was reset by the client")]
        public static partial void Reset(ILogger logger, string peer);
    }
}
