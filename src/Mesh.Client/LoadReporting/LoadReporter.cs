using Envoy.Config.Endpoint.V3;
using Envoy.Service.LoadStats.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Xds;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Node = Envoy.Config.Core.V3.Node;

namespace Mesh.Client.LoadReporting;

/// <summary>
/// The process's load reporting (gRFC A27, <c>envoy.service.load_stats.v3.LoadReportingService</c>): the load of every
/// cluster whose configuration names an <c>lrs_server</c> (which must be <c>self</c>, the ADS server), and one LRS stream
/// to that server while any cluster wants reporting. The stream sends the node and the clusters first, then, at the
/// interval the server's response asks for, the load of every cluster (<c>send_all_clusters</c>) or of the clusters it
/// names. It reconnects with gRPC's backoff, and ends (after a last report) when no cluster wants reporting any more.
/// </summary>
internal sealed partial class LoadReporter : IAsyncDisposable
{
    /// <summary>The client feature saying the client honours <c>send_all_clusters</c>.</summary>
    public const string SendAllClustersFeature = "envoy.lrs.supports_send_all_clusters";

    /// <summary>The shortest interval honoured; a server asking for less gets reports this often.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a stream that sent its last report waits for the server to end its side before it is cancelled.</summary>
    private static readonly TimeSpan LastReportGrace = TimeSpan.FromSeconds(5);

    private static volatile bool s_anyReporting;

    private readonly Func<GrpcChannel?> _channel;
    private readonly Func<Node> _node;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Cluster, string Service), ClusterLoad> _clusters = [];
    private readonly CancellationTokenSource _disposed = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private LoadStatsResponse? _config;
    private long _reportsSent;

    /// <summary>Creates a reporter.</summary>
    /// <param name="channel">The channel to the ADS server (the <c>self</c> LRS server), or null while there is none.</param>
    /// <param name="node">The node the ADS stream sends.</param>
    /// <param name="time">The clock of every interval and backoff.</param>
    /// <param name="logger">The logger.</param>
    public LoadReporter(Func<GrpcChannel?> channel, Func<Node> node, TimeProvider time, ILogger<LoadReporter> logger)
    {
        _channel = channel;
        _node = node;
        _time = time;
        _logger = logger;
    }

    /// <summary>The reporter of an application: it reports over the connection of the application's xDS client.</summary>
    public static LoadReporter Create(IServiceProvider services)
    {
        var clients = services.GetRequiredService<Internal.XdsClientProvider>();
        return new LoadReporter(
            () => clients.IsCreated ? clients.Client.CurrentChannel : null,
            () => clients.Client.Node,
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<LoadReporter>>());
    }

    /// <summary>Whether any cluster of the process ever had load reporting on: until then the call path skips it entirely.</summary>
    public static bool AnyReporting => s_anyReporting;

    /// <summary>The reconnect backoff (gRPC's connection backoff by default).</summary>
    internal XdsBackoffPolicy BackoffPolicy { get; set; } = XdsBackoffPolicy.Default;

    /// <summary>Whether the LRS stream loop is running.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_lock)
            {
                return _loop is not null;
            }
        }
    }

    /// <summary>Load reports written since start.</summary>
    public long ReportsSent => Interlocked.Read(ref _reportsSent);

    /// <summary>
    /// The load of <paramref name="cluster"/> (with <paramref name="serviceName"/>), counted from now on and reported until
    /// <see cref="Release"/> is called as often as this; starts the LRS stream if it is not running.
    /// </summary>
    public ClusterLoad Acquire(string cluster, string serviceName)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            if (!_clusters.TryGetValue((cluster, serviceName), out var load))
            {
                load = new ClusterLoad(cluster, serviceName, _time.GetTimestamp());
                _clusters.Add((cluster, serviceName), load);
            }

            load.References++;
            s_anyReporting = true;
            if (_loop is null)
            {
                Log.Starting(_logger);
                _loop = Task.Run(() => RunAsync(_disposed.Token));
            }

            return load;
        }
    }

    /// <summary>Ends one use of <paramref name="load"/>; when no cluster is used any more the stream sends a last report and ends.</summary>
    public void Release(ClusterLoad load)
    {
        TaskCompletionSource? wake = null;
        lock (_lock)
        {
            if (load.References > 0 && --load.References == 0 && !AnyReferencedLocked())
            {
                wake = _wake;
            }
        }

        wake?.TrySetResult();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            loop = _loop;
            _disposed.Cancel();
        }

        if (loop is not null)
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _disposed.Dispose();
    }

    private bool AnyReferencedLocked()
    {
        foreach (var load in _clusters.Values)
        {
            if (load.References > 0)
            {
                return true;
            }
        }

        return false;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new XdsBackoff(BackoffPolicy, Random.Shared.NextDouble);
        while (!cancellationToken.IsCancellationRequested)
        {
            var outcome = StreamOutcome.Failed;
            try
            {
                outcome = await RunStreamAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Whatever broke the stream (the server, the connection, a disposed channel), the loop lives on and retries.
                Log.StreamFailed(_logger, ex.Message);
            }

            if (outcome == StreamOutcome.Stopped)
            {
                return;
            }

            var delay = TimeSpan.Zero;
            if (outcome == StreamOutcome.Answered)
            {
                backoff.Reset();
            }
            else
            {
                delay = backoff.Next();
                Log.BackingOff(_logger, delay);
            }

            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }

            lock (_lock)
            {
                if (!AnyReferencedLocked())
                {
                    // Nothing wants reporting any more, and no stream is up to carry what is left: stop.
                    _loop = null;
                    Log.Stopped(_logger);
                    return;
                }
            }
        }

        lock (_lock)
        {
            _loop = null;
        }
    }

    private async Task<StreamOutcome> RunStreamAsync(CancellationToken cancellationToken)
    {
        if (_channel() is not { } channel)
        {
            Log.NoChannel(_logger);
            return StreamOutcome.Failed;
        }

        using var streamCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var call = new LoadReportingService.LoadReportingServiceClient(channel).StreamLoadStats(cancellationToken: streamCancellation.Token);
        var first = new LoadStatsRequest { Node = _node() };
        if (!first.Node.ClientFeatures.Contains(SendAllClustersFeature))
        {
            first.Node.ClientFeatures.Add(SendAllClustersFeature);
        }

        lock (_lock)
        {
            foreach (var load in _clusters.Values)
            {
                if (load.References > 0)
                {
                    first.ClusterStats.Add(new ClusterStats { ClusterName = load.ClusterName, ClusterServiceName = load.ServiceName });
                }
            }
        }

        await call.RequestStream.WriteAsync(first, cancellationToken).ConfigureAwait(false);
        if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            Log.StreamEnded(_logger);
            return StreamOutcome.Failed;
        }

        Apply(call.ResponseStream.Current);
        var reading = ReadResponsesAsync(call.ResponseStream, streamCancellation.Token);
        try
        {
            while (true)
            {
                TaskCompletionSource wake;
                TimeSpan interval;
                lock (_lock)
                {
                    wake = _wake;
                    interval = Interval(_config);
                }

                var tick = Task.Delay(interval, _time, cancellationToken);
                var fired = await Task.WhenAny(tick, reading, wake.Task).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (fired == reading)
                {
                    // The server ended the stream (or it broke): reconnect; what was not reported yet stays counted.
                    await reading.ConfigureAwait(false);
                    Log.StreamEnded(_logger);
                    return StreamOutcome.Answered;
                }

                if (fired == wake.Task)
                {
                    lock (_lock)
                    {
                        _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                }

                await ReportAsync(call.RequestStream, cancellationToken).ConfigureAwait(false);
                bool stop;
                lock (_lock)
                {
                    // The last report is out and no cluster wants reporting: end the stream (a later Acquire starts anew).
                    stop = !AnyReferencedLocked();
                    if (stop)
                    {
                        _loop = null;
                        Log.Stopped(_logger);
                    }
                }

                if (stop)
                {
                    await call.RequestStream.CompleteAsync().ConfigureAwait(false);

                    // Give the server the time to read the last report before the stream is cancelled below (a cancel
                    // resets the stream, and a report still in flight would be lost): it ends its side once ours is
                    // complete. Bounded, so a server that never answers cannot hold the reporter.
                    try
                    {
                        await reading.WaitAsync(LastReportGrace, _time, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or RpcException or IOException)
                    {
                        // The stream ends below either way.
                    }

                    return StreamOutcome.Stopped;
                }
            }
        }
        finally
        {
            await streamCancellation.CancelAsync().ConfigureAwait(false);
            try
            {
                await reading.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException)
            {
                // The stream is over either way.
            }
        }
    }

    private async Task ReadResponsesAsync(IAsyncStreamReader<LoadStatsResponse> responses, CancellationToken cancellationToken)
    {
        while (await responses.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            Apply(responses.Current);
        }
    }

    private void Apply(LoadStatsResponse response)
    {
        lock (_lock)
        {
            _config = response;
        }

        Log.Configured(_logger, Interval(response), response.SendAllClusters, response.Clusters.Count);
    }

    private static TimeSpan Interval(LoadStatsResponse? response)
    {
        var interval = response?.LoadReportingInterval?.ToTimeSpan() ?? TimeSpan.FromSeconds(10);
        return interval < MinimumInterval ? MinimumInterval : interval;
    }

    /// <summary>Writes one report: the load of the clusters the server asked for since their last report.</summary>
    private async Task ReportAsync(IClientStreamWriter<LoadStatsRequest> requests, CancellationToken cancellationToken)
    {
        var request = new LoadStatsRequest();
        var taken = new List<(LocalityLoad Locality, LocalityLoadDelta Delta)>();
        var drops = new List<(ClusterLoad Cluster, long Dropped)>();
        var reported = new List<(ClusterLoad Cluster, long Previous)>();
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            var sendAll = _config?.SendAllClusters ?? true;
            HashSet<string>? wanted = sendAll || _config is null ? null : [.. _config.Clusters];
            foreach (var (key, load) in _clusters.ToArray())
            {
                if (wanted is null || wanted.Contains(load.ClusterName))
                {
                    var stats = load.Drain(_time.GetElapsedTime(load.LastReportAt, now), taken, out var dropped);
                    reported.Add((load, load.LastReportAt));
                    load.LastReportAt = now;
                    if (dropped > 0)
                    {
                        drops.Add((load, dropped));
                    }

                    if (stats is not null)
                    {
                        request.ClusterStats.Add(stats);
                    }
                }

                if (load.References == 0 && !load.HasInProgress())
                {
                    _clusters.Remove(key);
                }
            }
        }

        if (request.ClusterStats.Count == 0)
        {
            return;
        }

        try
        {
            await requests.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _reportsSent);
        }
        catch
        {
            // Not sent: the next report (on this stream or the next) carries these counts, and the time they cover.
            foreach (var (locality, delta) in taken)
            {
                locality.Restore(delta);
            }

            foreach (var (cluster, dropped) in drops)
            {
                cluster.RestoreDrops(dropped);
            }

            lock (_lock)
            {
                foreach (var (cluster, previous) in reported)
                {
                    cluster.LastReportAt = previous;
                    if (!_clusters.ContainsKey((cluster.ClusterName, cluster.ServiceName)))
                    {
                        _clusters.Add((cluster.ClusterName, cluster.ServiceName), cluster);
                    }
                }
            }

            throw;
        }
    }

    private enum StreamOutcome
    {
        /// <summary>No stream, or it ended before the server answered: back off.</summary>
        Failed,

        /// <summary>The server answered, then the stream ended: reconnect at once.</summary>
        Answered,

        /// <summary>No cluster wants reporting: the loop ends.</summary>
        Stopped,
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Load reporting (LRS) starts: a cluster asks for load reports")]
        public static partial void Starting(ILogger logger);

        [LoggerMessage(2, LogLevel.Debug, "Load reporting (LRS) stopped: no cluster asks for load reports any more")]
        public static partial void Stopped(ILogger logger);

        [LoggerMessage(3, LogLevel.Warning, "Load reporting (LRS) stream failed: {Error}")]
        public static partial void StreamFailed(ILogger logger, string error);

        [LoggerMessage(4, LogLevel.Debug, "Load reporting (LRS) reconnects in {Delay}")]
        public static partial void BackingOff(ILogger logger, TimeSpan delay);

        [LoggerMessage(5, LogLevel.Debug, "Load reporting (LRS): the server asks for reports every {Interval} (all clusters: {SendAll}, named clusters: {Clusters})")]
        public static partial void Configured(ILogger logger, TimeSpan interval, bool sendAll, int clusters);

        [LoggerMessage(6, LogLevel.Debug, "Load reporting (LRS) stream ended by the server")]
        public static partial void StreamEnded(ILogger logger);

        [LoggerMessage(7, LogLevel.Debug, "Load reporting (LRS) has no connection to the xDS server yet")]
        public static partial void NoChannel(ILogger logger);
    }
}
