using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane.Xds;

/// <summary>
/// The xDS resources being served, translated once per accepted snapshot (not once per client), and the
/// connected clients, which it wakes when the resources change.
/// </summary>
public sealed partial class XdsResourceCache : IDisposable
{
    private readonly MeshSnapshotProvider _provider;
    private readonly ILogger _logger;
    private readonly bool _loadReporting;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, XdsConnection> _connections = [];

    /// <summary>Creates the cache and follows <paramref name="provider"/>.</summary>
    public XdsResourceCache(MeshSnapshotProvider provider, IOptions<ControlPlaneOptions> options, TimeProvider time, ILogger<XdsResourceCache> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _provider = provider;
        _logger = logger;
        Limits = options.Value.XdsLimits;
        NackLog = new LogRateLimiter(Limits.NackLogBurst, Limits.NackLogWindow, time);
        _loadReporting = options.Value.LoadReporting;
        Current = MeshTranslator.Translate(provider.Current, _loadReporting);
        provider.SnapshotChanged += OnSnapshotChanged;
    }

    /// <summary>The resources being served.</summary>
    public XdsResourceSet Current { get; private set; }

    /// <summary>The bounds of every ADS stream.</summary>
    public XdsStreamLimits Limits { get; }

    /// <summary>The snapshot being served (for identity checks against its endpoints).</summary>
    internal MeshSnapshot Snapshot => _provider.Current;

    private long _blockedResponseBytes;

    /// <summary>Bytes of responses now waiting for clients that do not read them (see <see cref="XdsStreamLimits.MaxBlockedResponseBytes"/>).</summary>
    public long BlockedResponseBytes => Interlocked.Read(ref _blockedResponseBytes);

    /// <summary>Adds <paramref name="bytes"/> (negative to remove) to <see cref="BlockedResponseBytes"/>; returns the new total.</summary>
    internal long AddBlockedResponseBytes(long bytes) => Interlocked.Add(ref _blockedResponseBytes, bytes);

    /// <summary>The subscriptions of every stream, each held once.</summary>
    internal XdsSubscriptionTable Subscriptions { get; } = new();

    /// <summary>What each subscription resolves to, per resource set and workload, shared by the streams.</summary>
    internal XdsResolvedMemo Memo { get; } = new();

    /// <summary>Rate-limits NACK log lines over all streams.</summary>
    internal LogRateLimiter NackLog { get; }

    /// <summary>The connected clients.</summary>
    public IReadOnlyList<XdsConnection> Connections
    {
        get
        {
            lock (_lock)
            {
                return [.. _connections.Values];
            }
        }
    }

    internal void Register(XdsConnection connection)
    {
        lock (_lock)
        {
            _connections.Add(connection.Id, connection);
        }
    }

    internal void Unregister(XdsConnection connection)
    {
        lock (_lock)
        {
            _connections.Remove(connection.Id);
        }
    }

    private void OnSnapshotChanged(MeshSnapshot snapshot)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var set = MeshTranslator.Translate(snapshot, _loadReporting);
        XdsConnection[] connections;
        lock (_lock)
        {
            Current = set;
            connections = [.. _connections.Values];
        }

        Log.Translated(_logger, snapshot.Version, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, connections.Length);
        foreach (var connection in connections)
        {
            connection.NotifyResourcesChanged();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _provider.SnapshotChanged -= OnSnapshotChanged;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Translated configuration version {Version} in {Milliseconds:F1} ms; pushing to {Clients} client(s).")]
        public static partial void Translated(ILogger logger, long version, double milliseconds, int clients);
    }
}
