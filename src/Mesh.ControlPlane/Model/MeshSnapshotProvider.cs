using Mesh.ControlPlane.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// Holds the mesh snapshot being served. It rebuilds the snapshot from every source when one changes (after a
/// debounce, so a burst of edits becomes one update; under a steady stream of changes a change waits about two
/// rebuilds' time, never more than the debounce maximum), and swaps it in only when the whole input is valid: a bad
/// update is logged with every error, kept for /debug, and the last good snapshot keeps serving.
/// </summary>
public sealed partial class MeshSnapshotProvider : IDisposable
{
    private readonly IReadOnlyList<IConfigSource> _sources;
    private readonly ControlPlaneOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Lock _rebuildLock = new();
    private readonly List<IDisposable> _registrations = [];
    private ITimer? _timer;
    private DateTimeOffset _firstPending;
    private bool _pending;
    private volatile bool _disposed;
    private long _nextVersion = 1;
    private TimeSpan _lastRebuild;
    private CancellationTokenSource _changed = new();

    /// <summary>Creates a provider over <paramref name="sources"/>.</summary>
    public MeshSnapshotProvider(IEnumerable<IConfigSource> sources, IOptions<ControlPlaneOptions> options, TimeProvider time, ILogger<MeshSnapshotProvider> logger)
    {
        _sources = [.. sources];
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>The snapshot being served.</summary>
    public MeshSnapshot Current { get; private set; } = MeshSnapshot.Empty;

    /// <summary>The errors of the most recent rejected update, or empty when the latest input was accepted.</summary>
    public IReadOnlyList<ConfigError> LastErrors { get; private set; } = [];

    /// <summary>The warnings of the most recent build.</summary>
    public IReadOnlyList<ConfigError> LastWarnings { get; private set; } = [];

    /// <summary>
    /// The status of every Gateway API resource Mesh controls, from the most recent build, accepted or not (a route
    /// refused for a missing backend is refused whatever else the update holds); the Kubernetes status writer writes it
    /// back, /debug/configz shows it.
    /// </summary>
    public System.Collections.Immutable.ImmutableArray<GatewayApi.GatewayApiStatus> LastGatewayApiStatuses { get; private set; } = [];

    /// <summary>Raised after a new snapshot was swapped in.</summary>
    public event Action<MeshSnapshot>? SnapshotChanged;

    /// <summary>A token that fires when <see cref="Current"/> is replaced.</summary>
    public IChangeToken GetChangeToken()
    {
        lock (_lock)
        {
            return new CancellationChangeToken(_changed.Token);
        }
    }

    /// <summary>Starts the sources and builds the first snapshot; returns whether it was valid.</summary>
    public async Task<bool> StartAsync(CancellationToken cancellationToken)
    {
        foreach (var source in _sources)
        {
            await source.StartAsync(cancellationToken).ConfigureAwait(false);
            Log.SourceStarted(_logger, source.Name);
            _registrations.Add(ChangeToken.OnChange(source.GetChangeToken, ScheduleRebuild));
        }

        return Rebuild();
    }

    /// <summary>Reads every source now and swaps in the result if it is valid; returns whether it was.</summary>
    public bool Rebuild()
    {
        // Rebuilds are serialized by their own lock, so a source reporting a change meanwhile (an informer's watch loop)
        // only schedules the next one and never waits for this one.
        lock (_rebuildLock)
        {
            lock (_lock)
            {
                _pending = false;
            }

            var started = _time.GetTimestamp();
            try
            {
                return RebuildLocked();
            }
            finally
            {
                var took = _time.GetElapsedTime(started);
                lock (_lock)
                {
                    _lastRebuild = took;
                }
            }
        }
    }

    private bool RebuildLocked()
    {
        var resources = new List<ConfigResource>();
        var errors = new List<ConfigError>();
        foreach (var source in _sources)
        {
            var set = source.Current;
            resources.AddRange(set.Resources);
            errors.AddRange(set.Errors);
        }

        var result = MeshModelBuilder.Build(resources, _nextVersion, _options.ClusterDomain, _options.TrustDomain);
        errors.AddRange(result.Errors);
        LastWarnings = result.Warnings;
        LastGatewayApiStatuses = result.GatewayApiStatuses;
        foreach (var warning in result.Warnings)
        {
            Log.ConfigWarning(_logger, warning.ToString());
        }

        if (errors.Count > 0 || result.Snapshot is null)
        {
            LastErrors = errors;
            foreach (var error in errors)
            {
                Log.ConfigError(_logger, error.ToString());
            }

            Log.UpdateRejected(_logger, errors.Count, Current.Version);
            return false;
        }

        LastErrors = [];
        _nextVersion++;
        Current = result.Snapshot;
        Log.SnapshotAccepted(_logger, Current.Version, resources.Count, Current.Services.Count, Current.Routes.Count, Current.Policies.Count);
        CancellationTokenSource fired;
        lock (_lock)
        {
            fired = _changed;
            _changed = new CancellationTokenSource();
        }

        fired.Cancel();
        fired.Dispose();

        // Raised under the rebuild lock so that listeners see snapshots in order.
        SnapshotChanged?.Invoke(Current);

        return true;
    }

    private void ScheduleRebuild()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (!_pending)
            {
                _pending = true;
                _firstPending = now;
            }

            var due = Math.Min(_options.DebounceQuiet.Ticks, Math.Max(0, (_firstPending + MaxWait - now).Ticks));
            _timer ??= _time.CreateTimer(_ => RebuildFromTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(TimeSpan.FromTicks(due), Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// The longest a change waits while more keep coming: twice as long as the last rebuild took, at least a quarter of
    /// <see cref="ControlPlaneOptions.DebounceMax"/> (and <see cref="ControlPlaneOptions.DebounceQuiet"/>), at most
    /// <see cref="ControlPlaneOptions.DebounceMax"/>. A burst of edits shorter than that still becomes one update; under a
    /// steady stream of changes (endpoints churning in a large cluster) a change waits about two rebuilds rather than the
    /// whole maximum, and rebuilding takes at most about half of one core. Called under <c>_lock</c>.
    /// </summary>
    private TimeSpan MaxWait
    {
        get
        {
            var floor = _options.DebounceMax / 4 > _options.DebounceQuiet ? _options.DebounceMax / 4 : _options.DebounceQuiet;
            var wait = _lastRebuild * 2 > floor ? _lastRebuild * 2 : floor;
            return wait < _options.DebounceMax ? wait : _options.DebounceMax;
        }
    }

    private void RebuildFromTimer()
    {
        try
        {
            if (!_disposed)
            {
                Rebuild();
            }
        }
        catch (Exception ex)
        {
            // A timer callback must never take the process down; the last good snapshot keeps serving.
            Log.RebuildFailed(_logger, ex);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _timer?.Dispose();
        _changed.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Reading configuration from {Source}.")]
        public static partial void SourceStarted(ILogger logger, string source);

        [LoggerMessage(2, LogLevel.Information, "Configuration version {Version} loaded: {Resources} resources, {Services} services, {Routes} routed hosts, {Policies} destination rules.")]
        public static partial void SnapshotAccepted(ILogger logger, long version, int resources, int services, int routes, int policies);

        [LoggerMessage(3, LogLevel.Error, "Configuration rejected: {Error}")]
        public static partial void ConfigError(ILogger logger, string error);

        [LoggerMessage(4, LogLevel.Error, "Configuration update rejected with {Count} error(s); still serving version {Version}.")]
        public static partial void UpdateRejected(ILogger logger, int count, long version);

        [LoggerMessage(5, LogLevel.Warning, "Configuration accepted with a warning: {Warning}")]
        public static partial void ConfigWarning(ILogger logger, string warning);

        [LoggerMessage(6, LogLevel.Error, "Rebuilding the configuration failed; still serving the last good version.")]
        public static partial void RebuildFailed(ILogger logger, Exception exception);
    }
}
