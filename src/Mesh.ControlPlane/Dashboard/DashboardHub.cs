using System.Threading.Channels;
using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Xds;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>
/// Builds the dashboard's snapshots and sends them to the browsers following <c>/dashboard/events</c>: one JSON
/// snapshot every <see cref="DashboardLimits.SnapshotPeriod"/>, built once for all of them, while at least one follows
/// (nothing runs when nobody looks). At most <see cref="DashboardLimits.MaxEventClients"/> follow at once; each has a
/// one-snapshot queue that drops the older snapshot, so a slow browser never holds memory or delays the others.
/// </summary>
internal sealed partial class DashboardHub : IDisposable
{
    private readonly MeshSnapshotProvider _provider;
    private readonly XdsResourceCache _cache;
    private readonly LoadReportStore _store;
    private readonly TimeProvider _time;
    private readonly bool _loadReporting;
    private readonly ILogger _logger;
    private readonly Lock _buildLock = new();
    private readonly Lock _subscribersLock = new();
    private readonly List<Channel<string>> _subscribers = [];
    private readonly EdgeRateTracker _rates;
    private readonly ClientRoster _roster = new();
    private CancellationTokenSource? _loop;

    /// <summary>Creates the hub.</summary>
    public DashboardHub(
        MeshSnapshotProvider provider,
        XdsResourceCache cache,
        LoadReportStore store,
        IOptions<ControlPlaneOptions> options,
        TimeProvider time,
        ILogger<DashboardHub> logger)
    {
        _provider = provider;
        _cache = cache;
        _store = store;
        _time = time;
        _loadReporting = options.Value.LoadReporting;
        _logger = logger;
        _rates = new EdgeRateTracker(store, time);
    }

    /// <summary>Browsers following the events now.</summary>
    public int Subscribers
    {
        get
        {
            lock (_subscribersLock)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Builds a snapshot of now, as compact JSON.</summary>
    public string BuildJson()
    {
        lock (_buildLock)
        {
            var now = _time.GetUtcNow();
            var reports = _store.Reports;
            var edges = _rates.Sample();
            var clients = _roster.Update(_cache.Connections, now);
            return DashboardSnapshot.Build(new DashboardInputs(
                _provider.Current, _provider.LastErrors, _provider.LastWarnings, clients, edges, reports, _loadReporting, _rates.Window, now)).ToJsonString();
        }
    }

    /// <summary>
    /// Starts following the snapshots: the reader yields the current one at once, then one per period. Returns null when
    /// <see cref="DashboardLimits.MaxEventClients"/> already follow. Dispose the subscription to stop.
    /// </summary>
    public Subscription? Subscribe()
    {
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = true,
        });
        lock (_subscribersLock)
        {
            if (_subscribers.Count >= DashboardLimits.MaxEventClients)
            {
                Log.TooManyClients(_logger, DashboardLimits.MaxEventClients);
                return null;
            }

            _subscribers.Add(channel);
            if (_loop is null)
            {
                _loop = new CancellationTokenSource();
                _ = RunAsync(_loop.Token);
            }
        }

        channel.Writer.TryWrite(BuildJson());
        return new Subscription(this, channel);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_subscribersLock)
        {
            _loop?.Cancel();
            _loop?.Dispose();
            _loop = null;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }

            _subscribers.Clear();
        }
    }

    private void Unsubscribe(Channel<string> channel)
    {
        lock (_subscribersLock)
        {
            _subscribers.Remove(channel);
            channel.Writer.TryComplete();
            if (_subscribers.Count == 0 && _loop is not null)
            {
                _loop.Cancel();
                _loop.Dispose();
                _loop = null;
            }
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(DashboardLimits.SnapshotPeriod, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                string json;
                try
                {
                    json = BuildJson();
                }
                catch (InvalidOperationException ex)
                {
                    // A snapshot that cannot be built (a collection changed under it) is skipped; the next one follows.
                    Log.SnapshotFailed(_logger, ex);
                    continue;
                }

                lock (_subscribersLock)
                {
                    foreach (var subscriber in _subscribers)
                    {
                        subscriber.Writer.TryWrite(json);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The last browser left.
        }
    }

    /// <summary>One browser's place in the hub.</summary>
    internal sealed class Subscription : IDisposable
    {
        private readonly DashboardHub _hub;
        private readonly Channel<string> _channel;

        public Subscription(DashboardHub hub, Channel<string> channel)
        {
            _hub = hub;
            _channel = channel;
        }

        /// <summary>The snapshots, newest only when the browser falls behind.</summary>
        public ChannelReader<string> Reader => _channel.Reader;

        /// <inheritdoc />
        public void Dispose() => _hub.Unsubscribe(_channel);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "A browser was refused /dashboard/events: {Limit} already follow it")]
        public static partial void TooManyClients(ILogger logger, int limit);

        [LoggerMessage(2, LogLevel.Warning, "A dashboard snapshot could not be built; the next one follows")]
        public static partial void SnapshotFailed(ILogger logger, Exception exception);
    }
}
