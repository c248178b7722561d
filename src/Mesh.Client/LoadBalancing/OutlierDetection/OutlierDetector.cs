using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Client.LoadBalancing.OutlierDetection;

/// <summary>Why an endpoint was ejected.</summary>
internal enum EjectionReason
{
    /// <summary>Its success rate was a statistical outlier among the cluster's endpoints.</summary>
    SuccessRate,

    /// <summary>Its failure percentage reached the threshold.</summary>
    FailurePercentage,

    /// <summary>It failed the configured number of calls in a row.</summary>
    Consecutive5xx,
}

/// <summary>
/// Passive health checking for the endpoints of one cluster (gRFC A50, plus Envoy's consecutive 5xx). Call results
/// are counted per endpoint; a sweep every <see cref="OutlierDetectionConfig.Interval"/> ejects outliers and returns
/// endpoints whose ejection time has passed. A run of consecutive failures ejects at once. Balancers leave ejected
/// endpoints out of their pickers and rebuild them on <see cref="EjectionsChanged"/>.
/// </summary>
/// <typeparam name="TEndpoint">The endpoint key, compared with its default equality (reference equality for
/// <see cref="EndpointState"/>).</typeparam>
internal sealed partial class OutlierDetector<TEndpoint> : IDisposable
    where TEndpoint : class
{
    // System.Threading.Timer takes at most 0xfffffffe ms; longer intervals sweep that often instead. At least 1 ms, so
    // that re-arming the timer never runs the callback on the calling thread (FakeTimeProvider does for 0).
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);
    private static readonly TimeSpan MinTimerDelay = TimeSpan.FromMilliseconds(1);

    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Func<double> _random;
    private readonly Lock _lock = new();
    private readonly ITimer _timer;
    private readonly List<Entry> _candidates = [];

    // Replaced (never changed) by Update, so the per-call path reads it without a lock.
    private Dictionary<TEndpoint, Entry> _entries = [];
    private OutlierDetectionConfig _config;
    private bool _countCalls;
    private bool _timerRunning;
    private long _timerStarted;
    private int _ejectedCount;
    private bool _disposed;

    /// <summary>Creates a detector with no endpoints; the sweep timer starts when any algorithm is on.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="timeProvider">The source of time and timers.</param>
    /// <param name="logger">Where ejections and returns are logged; none when null.</param>
    /// <param name="random">Draws in [0, 1) for enforcement percentages; <see cref="Random.Shared"/> when null.</param>
    public OutlierDetector(OutlierDetectionConfig config, TimeProvider timeProvider, ILogger? logger = null, Func<double>? random = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _config = config;
        _timeProvider = timeProvider;
        _logger = logger ?? NullLogger.Instance;
        _random = random ?? Random.Shared.NextDouble;
        _timer = timeProvider.CreateTimer(static state => ((OutlierDetector<TEndpoint>)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (_lock)
        {
            ApplyConfigLocked(config);
        }
    }

    /// <summary>
    /// Raised, outside the detector's lock, when an endpoint is ejected or returned (by a sweep, a run of failures,
    /// or <see cref="UpdateConfig"/>); not raised by <see cref="Update"/>, whose caller knows its endpoints changed.
    /// May be raised on a timer thread or on the thread that called <see cref="RecordResult"/>.
    /// </summary>
    public event Action? EjectionsChanged;

    /// <summary>The configuration in force.</summary>
    public OutlierDetectionConfig Config => Volatile.Read(ref _config);

    /// <summary>
    /// Applies a new configuration, keeping every endpoint's state (A50): the sweep timer keeps its phase, or starts
    /// afresh with zeroed counters if it was stopped; with every algorithm off it stops and all endpoints return.
    /// </summary>
    public void UpdateConfig(OutlierDetectionConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        bool changed;
        lock (_lock)
        {
            if (_disposed || config == _config)
            {
                return;
            }

            changed = ApplyConfigLocked(config);
        }

        if (changed)
        {
            RaiseEjectionsChanged();
        }
    }

    /// <summary>
    /// Sets the cluster's endpoints: state is kept for endpoints already known, created for new ones, and dropped for
    /// ones no longer listed (an endpoint that comes back later starts afresh).
    /// </summary>
    public void Update(IEnumerable<TEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        lock (_lock)
        {
            var previous = _entries;
            var next = new Dictionary<TEndpoint, Entry>(previous.Count);
            var ejected = 0;
            foreach (var endpoint in endpoints)
            {
                if (next.ContainsKey(endpoint))
                {
                    continue;
                }

                var entry = previous.GetValueOrDefault(endpoint) ?? new Entry(endpoint);
                next.Add(endpoint, entry);
                ejected += entry.Ejected ? 1 : 0;
            }

            _ejectedCount = ejected;
            Volatile.Write(ref _entries, next);
        }
    }

    /// <summary>
    /// Records the outcome of one call to <paramref name="endpoint"/> (thread-safe, allocation-free). A failure is
    /// what Envoy counts as a 5xx: for gRPC, a status the caller treats as the server's fault. Unknown endpoints
    /// are ignored.
    /// </summary>
    public void RecordResult(TEndpoint endpoint, bool success)
    {
        if (!Volatile.Read(ref _entries).TryGetValue(endpoint, out var entry))
        {
            return;
        }

        if (Volatile.Read(ref _countCalls))
        {
            if (success)
            {
                Interlocked.Increment(ref entry.Successes);
            }
            else
            {
                Interlocked.Increment(ref entry.Failures);
            }
        }

        if (Volatile.Read(ref _config).Consecutive5xx is not { } consecutive)
        {
            return;
        }

        if (success)
        {
            // Reading first keeps a run of successes from writing the shared line on every call.
            if (Volatile.Read(ref entry.ConsecutiveFailures) != 0)
            {
                Volatile.Write(ref entry.ConsecutiveFailures, 0);
            }
        }
        else if ((uint)Interlocked.Increment(ref entry.ConsecutiveFailures) == consecutive.Threshold)
        {
            OnConsecutiveFailures(entry);
        }
    }

    /// <summary>Whether <paramref name="endpoint"/> is ejected now; false for unknown endpoints.</summary>
    public bool IsEjected(TEndpoint endpoint) =>
        Volatile.Read(ref _entries).TryGetValue(endpoint, out var entry) && entry.Ejected;

    /// <summary>Stops the sweep timer; results recorded afterwards are ignored.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timerRunning = false;
            Volatile.Write(ref _countCalls, false);
        }

        _timer.Dispose();
    }

    private bool ApplyConfigLocked(OutlierDetectionConfig config)
    {
        Volatile.Write(ref _config, config);
        Volatile.Write(ref _countCalls, config.SuccessRateEjection is not null || config.FailurePercentageEjection is not null);
        var changed = false;
        if (!config.IsEnabled)
        {
            // Nothing can be ejected any more: stop sweeping and return everyone (as grpc-go does).
            _timerRunning = false;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            foreach (var entry in _entries.Values)
            {
                if (entry.Ejected)
                {
                    UnejectLocked(entry, _timeProvider.GetTimestamp());
                    changed = true;
                }

                entry.Multiplier = 0;
            }
        }
        else if (!_timerRunning)
        {
            // A50: a first (or re-enabled) config starts the timer for a full interval with fresh counters.
            _timerRunning = true;
            _timerStarted = _timeProvider.GetTimestamp();
            foreach (var entry in _entries.Values)
            {
                entry.ResetCounters();
            }

            _timer.Change(ClampDelay(config.Interval), Timeout.InfiniteTimeSpan);
        }
        else
        {
            // A50: keep the timer's phase; the next sweep comes one new interval after the last one started.
            var remaining = config.Interval - _timeProvider.GetElapsedTime(_timerStarted);
            _timer.Change(ClampDelay(remaining), Timeout.InfiniteTimeSpan);
        }

        if (config.Consecutive5xx is null)
        {
            foreach (var entry in _entries.Values)
            {
                Volatile.Write(ref entry.ConsecutiveFailures, 0);
            }
        }

        return changed;
    }

    private void OnConsecutiveFailures(Entry entry)
    {
        var changed = false;
        lock (_lock)
        {
            // Envoy: the run is consumed whether or not it ejects, so the next run gets its own chance.
            Volatile.Write(ref entry.ConsecutiveFailures, 0);
            if (_disposed || _config.Consecutive5xx is not { } consecutive || entry.Ejected
                || !_entries.TryGetValue(entry.Endpoint, out var current) || !ReferenceEquals(current, entry))
            {
                return;
            }

            if (!CanEjectLocked())
            {
                Log.EjectionLimitReached(_logger, entry.Endpoint, EjectionReason.Consecutive5xx, _config.MaxEjectionPercent);
            }
            else if (!Enforce(consecutive.EnforcementPercentage))
            {
                Log.EjectionNotEnforced(_logger, entry.Endpoint, EjectionReason.Consecutive5xx);
            }
            else
            {
                EjectLocked(entry, _timeProvider.GetTimestamp(), EjectionReason.Consecutive5xx);
                changed = true;
            }
        }

        if (changed)
        {
            RaiseEjectionsChanged();
        }
    }

    private void OnTimer()
    {
        var changed = false;
        lock (_lock)
        {
            if (_disposed || !_timerRunning)
            {
                return;
            }

            // A50 steps 1-5: note the time, swap buckets, success rate, failure percentage, then age and return.
            var now = _timeProvider.GetTimestamp();
            _timerStarted = now;
            var config = _config;
            foreach (var entry in _entries.Values)
            {
                entry.SwapBuckets();
            }

            if (config.SuccessRateEjection is { } successRate)
            {
                changed |= RunSuccessRateLocked(successRate, now);
            }

            if (config.FailurePercentageEjection is { } failurePercentage)
            {
                changed |= RunFailurePercentageLocked(failurePercentage, now);
            }

            foreach (var entry in _entries.Values)
            {
                if (!entry.Ejected)
                {
                    if (entry.Multiplier > 0)
                    {
                        entry.Multiplier--;
                    }
                }
                else if (_timeProvider.GetElapsedTime(entry.EjectedAt, now) >= EjectionTime(config, entry.Multiplier))
                {
                    UnejectLocked(entry, now);
                    changed = true;
                }
            }

            // A one-shot timer re-armed after each sweep (A50: the timer restarts when it fires), so sweeps never
            // pile up behind a slow one.
            _timer.Change(ClampDelay(config.Interval), Timeout.InfiniteTimeSpan);
        }

        if (changed)
        {
            RaiseEjectionsChanged();
        }
    }

    private bool RunSuccessRateLocked(SuccessRateEjectionConfig config, long now)
    {
        _candidates.Clear();
        foreach (var entry in _entries.Values)
        {
            if (entry.LastVolume >= config.RequestVolume && entry.LastVolume > 0)
            {
                _candidates.Add(entry);
            }
        }

        if (_candidates.Count == 0 || _candidates.Count < config.MinimumHosts)
        {
            return false;
        }

        double sum = 0;
        foreach (var entry in _candidates)
        {
            sum += entry.LastSuccessRate;
        }

        var mean = sum / _candidates.Count;
        double squares = 0;
        foreach (var entry in _candidates)
        {
            var deviation = entry.LastSuccessRate - mean;
            squares += deviation * deviation;
        }

        var stdev = Math.Sqrt(squares / _candidates.Count);
        var threshold = mean - (stdev * (config.StdevFactor / 1000.0));
        var changed = false;
        foreach (var entry in _candidates)
        {
            if (entry.Ejected || entry.LastSuccessRate >= threshold)
            {
                continue;
            }

            Log.SuccessRateOutlier(_logger, entry.Endpoint, entry.LastSuccessRate, threshold, mean, stdev);
            if (!CanEjectLocked())
            {
                Log.EjectionLimitReached(_logger, entry.Endpoint, EjectionReason.SuccessRate, _config.MaxEjectionPercent);
                break;
            }

            if (!Enforce(config.EnforcementPercentage))
            {
                Log.EjectionNotEnforced(_logger, entry.Endpoint, EjectionReason.SuccessRate);
                continue;
            }

            EjectLocked(entry, now, EjectionReason.SuccessRate);
            changed = true;
        }

        _candidates.Clear();
        return changed;
    }

    private bool RunFailurePercentageLocked(FailurePercentageEjectionConfig config, long now)
    {
        // A50: the minimum counts every endpoint, whatever its traffic.
        if (_entries.Count < config.MinimumHosts)
        {
            return false;
        }

        var changed = false;
        foreach (var entry in _entries.Values)
        {
            var volume = entry.LastVolume;
            if (entry.Ejected || volume == 0 || volume < config.RequestVolume
                || entry.LastFailures * 100 < config.Threshold * volume)
            {
                continue;
            }

            if (!CanEjectLocked())
            {
                Log.EjectionLimitReached(_logger, entry.Endpoint, EjectionReason.FailurePercentage, _config.MaxEjectionPercent);
                break;
            }

            if (!Enforce(config.EnforcementPercentage))
            {
                Log.EjectionNotEnforced(_logger, entry.Endpoint, EjectionReason.FailurePercentage);
                continue;
            }

            EjectLocked(entry, now, EjectionReason.FailurePercentage);
            changed = true;
        }

        return changed;
    }

    /// <summary>
    /// Whether one more endpoint may be ejected: the first always may (A50: "at least one address regardless of the
    /// value"); after that only while the ejected share stays within <see cref="OutlierDetectionConfig.MaxEjectionPercent"/>.
    /// </summary>
    private bool CanEjectLocked() =>
        _ejectedCount == 0 || (_ejectedCount + 1) * 100L <= _config.MaxEjectionPercent * (long)_entries.Count;

    /// <summary>A50: draw an integer in [0, 100); eject when it is below the enforcement percentage.</summary>
    private bool Enforce(uint percentage) => Math.Clamp((int)(_random() * 100), 0, 99) < percentage;

    private void EjectLocked(Entry entry, long now, EjectionReason reason)
    {
        entry.Ejected = true;
        entry.EjectedAt = now;
        entry.Multiplier++;
        _ejectedCount++;
        Log.Ejected(_logger, entry.Endpoint, reason, EjectionTime(_config, entry.Multiplier));
    }

    private void UnejectLocked(Entry entry, long now)
    {
        entry.Ejected = false;
        _ejectedCount--;

        // Envoy: a fresh start, so a few errors right after returning do not complete a run begun before ejection.
        Volatile.Write(ref entry.ConsecutiveFailures, 0);
        Log.Returned(_logger, entry.Endpoint, _timeProvider.GetElapsedTime(entry.EjectedAt, now));
    }

    /// <summary>A50: <c>min(base * multiplier, max(base, max_ejection_time))</c>, without overflowing.</summary>
    private static TimeSpan EjectionTime(OutlierDetectionConfig config, int multiplier)
    {
        var baseTime = config.BaseEjectionTime;
        var cap = baseTime > config.MaxEjectionTime ? baseTime : config.MaxEjectionTime;
        if (baseTime <= TimeSpan.Zero || multiplier <= 0)
        {
            return TimeSpan.Zero;
        }

        return multiplier > cap.Ticks / baseTime.Ticks ? cap : TimeSpan.FromTicks(baseTime.Ticks * multiplier);
    }

    private static TimeSpan ClampDelay(TimeSpan delay) =>
        delay < MinTimerDelay ? MinTimerDelay : delay > MaxTimerDelay ? MaxTimerDelay : delay;

    private void RaiseEjectionsChanged()
    {
        try
        {
            EjectionsChanged?.Invoke();
        }
        catch (Exception ex)
        {
            // A throwing handler must not take down the timer thread or the call that completed.
            Log.EjectionsChangedHandlerFailed(_logger, ex);
        }
    }

    /// <summary>
    /// One endpoint's state. The active bucket (<see cref="Successes"/>, <see cref="Failures"/>) is counted with
    /// Interlocked by callers; a sweep swaps it into the inactive bucket (<see cref="LastSuccesses"/>,
    /// <see cref="LastFailures"/>) by exchanging it with zero, so no count is lost. Everything else is guarded by the
    /// detector's lock; <see cref="Ejected"/> is also read without it.
    /// </summary>
    private sealed class Entry(TEndpoint endpoint)
    {
        public long Successes;
        public long Failures;
        public int ConsecutiveFailures;
        public volatile bool Ejected;

        public TEndpoint Endpoint { get; } = endpoint;

        public long LastSuccesses { get; private set; }

        public long LastFailures { get; private set; }

        public long LastVolume => LastSuccesses + LastFailures;

        public double LastSuccessRate => (double)LastSuccesses / LastVolume;

        /// <summary>When it was last ejected (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
        public long EjectedAt { get; set; }

        /// <summary>The ejection time multiplier: up by one per ejection, down by one per sweep it spends not ejected.</summary>
        public int Multiplier { get; set; }

        public void SwapBuckets()
        {
            LastSuccesses = Interlocked.Exchange(ref Successes, 0);
            LastFailures = Interlocked.Exchange(ref Failures, 0);
        }

        public void ResetCounters()
        {
            Interlocked.Exchange(ref Successes, 0);
            Interlocked.Exchange(ref Failures, 0);
            LastSuccesses = 0;
            LastFailures = 0;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Ejected endpoint {Endpoint} ({Reason}) for {EjectionTime}.")]
        public static partial void Ejected(ILogger logger, TEndpoint endpoint, EjectionReason reason, TimeSpan ejectionTime);

        [LoggerMessage(2, LogLevel.Information, "Returned endpoint {Endpoint} to service after {Ejected}.")]
        public static partial void Returned(ILogger logger, TEndpoint endpoint, TimeSpan ejected);

        [LoggerMessage(3, LogLevel.Debug, "Endpoint {Endpoint} is a success-rate outlier: {SuccessRate:P1} is below {Threshold:P1} (mean {Mean:P1}, stdev {Stdev:P1}).")]
        public static partial void SuccessRateOutlier(ILogger logger, TEndpoint endpoint, double successRate, double threshold, double mean, double stdev);

        [LoggerMessage(4, LogLevel.Debug, "Endpoint {Endpoint} is an outlier ({Reason}) but the enforcement draw spared it.")]
        public static partial void EjectionNotEnforced(ILogger logger, TEndpoint endpoint, EjectionReason reason);

        [LoggerMessage(5, LogLevel.Debug, "Endpoint {Endpoint} is an outlier ({Reason}) but not ejected: {MaxEjectionPercent}% of endpoints are ejected already.")]
        public static partial void EjectionLimitReached(ILogger logger, TEndpoint endpoint, EjectionReason reason, uint maxEjectionPercent);

        [LoggerMessage(6, LogLevel.Error, "An EjectionsChanged handler failed.")]
        public static partial void EjectionsChangedHandlerFailed(ILogger logger, Exception exception);
    }
}
