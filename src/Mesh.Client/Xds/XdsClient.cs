using System.Reflection;
using System.Threading.Channels;
using Envoy.Admin.V3;
using Envoy.Service.Discovery.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Mesh.Client.Bootstrap;
using Microsoft.Extensions.Logging;
using Node = Envoy.Config.Core.V3.Node;

namespace Mesh.Client.Xds;

/// <summary>
/// The process's xDS client (gRFC A27, A57): one state-of-the-world ADS stream to the first server of the
/// bootstrap, a cache of the watched resources, validation with ACK/NACK, 15 s does-not-exist timers, and
/// reconnection with backoff that keeps serving the cache meanwhile.
/// </summary>
/// <remarks>
/// <para>
/// State lives under one lock. Watcher callbacks are queued while it is held and run afterwards, one at a time,
/// on a separate loop, so a callback may watch or unwatch. Requests go out through one writer per stream; each
/// request is built from the state at the moment it is written (every subscribed name of its type, the last
/// accepted version, the last nonce), so a burst of watches coalesces into one request.
/// </para>
/// <para>
/// Every timer and delay comes from the <see cref="TimeProvider"/>. The gRPC channel bypasses Grpc.Net.Client's
/// own subchannel reconnect backoff (it is given an <see cref="HttpClient"/>), so that the stream's backoff here is
/// the only retry layer and a stream attempt fails, rather than waits, while the server is unreachable (gRFC A57).
/// </para>
/// </remarks>
internal sealed partial class XdsClient : IAsyncDisposable
{
    /// <summary>The user agent name sent in the node.</summary>
    public const string UserAgentName = "Mesh.Client";

    /// <summary>The client features sent in the node.</summary>
    public static readonly IReadOnlyList<string> ClientFeatures =
        ["envoy.lb.does_not_support_overprovisioning", "xds.config.resource-in-sotw"];

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<XdsServerConfig> _servers;
    private XdsServerConfig _server;
    private int _serverIndex;
    private int? _switchTo;
    private readonly Node _node;
    private readonly Dictionary<string, TypeState> _types = new(StringComparer.Ordinal);
    private readonly Channel<WatcherCallback> _callbacks =
        Channel.CreateUnbounded<WatcherCallback>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _callbackLoop;
    private readonly CancellationTokenSource _disposeCts = new();

    private readonly XdsResourceCache? _cache;
    private readonly IReadOnlyDictionary<string, XdsCachedType> _cachedTypes = new Dictionary<string, XdsCachedType>();
    private readonly Channel<CacheWrite> _cacheWrites =
        Channel.CreateUnbounded<CacheWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _cacheWriter = Task.CompletedTask;
    private DateTimeOffset? _servingCacheSince;

    private GrpcChannel? _channel;
    private Task? _connectionLoop;
    private AdsStream? _stream;
    private bool _disposed;

    private XdsConnectionState _state = XdsConnectionState.Idle;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private int _consecutiveFailures;
    private TimeSpan? _retryDelay;
    private DateTimeOffset? _nextAttemptAt;

    private long _streamsStarted;
    private long _streamsFailed;
    private long _streamsClosedAfterResponse;
    private long _responsesReceived;
    private long _acks;
    private long _nacks;
    private long _resourcesAccepted;
    private long _resourcesRejected;
    private long _doesNotExistTimeouts;

    /// <summary>Creates a client; nothing connects until the first <see cref="Watch"/>.</summary>
    /// <param name="bootstrap">The bootstrap; its first xDS server is used.</param>
    /// <param name="timeProvider">The clock for every timer and backoff delay.</param>
    /// <param name="loggerFactory">The logger factory.</param>
    /// <param name="cacheDirectory">
    /// Where accepted resources are persisted and read back at start (see <see cref="XdsResourceCache"/>); null for none.
    /// </param>
    public XdsClient(XdsBootstrap bootstrap, TimeProvider timeProvider, ILoggerFactory loggerFactory, string? cacheDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(bootstrap);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (bootstrap.XdsServers.Count == 0)
        {
            throw new ArgumentException("The bootstrap names no xDS server.", nameof(bootstrap));
        }

        Bootstrap = bootstrap;
        _time = timeProvider;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<XdsClient>();
        _servers = bootstrap.XdsServers;
        _server = _servers[0];
        foreach (var server in _servers)
        {
            // Every server's address and credentials must be usable up front, not at the first fallback.
            _ = server.GetAddress();
            using var check = new SocketsHttpHandler();
            XdsChannelCredentials.Apply(server, check);
        }

        _node = bootstrap.Node.ToProto();
        _node.UserAgentName = UserAgentName;
        _node.UserAgentVersion = GetUserAgentVersion();
        _node.ClientFeatures.AddRange(ClientFeatures);
        if (!string.IsNullOrEmpty(cacheDirectory))
        {
            _cache = new XdsResourceCache(cacheDirectory, bootstrap, timeProvider, _logger);
            _cachedTypes = _cache.Load();
            if (_cachedTypes.Count == 0)
            {
                Log.CacheEmpty(_logger, _cache.Directory, _cache.Problems.Count == 0 ? "no cache files" : string.Join("; ", _cache.Problems));
            }

            _cacheWriter = Task.Run(RunCacheWriterAsync);
        }

        _callbackLoop = Task.Run(RunCallbacksAsync);
    }

    /// <summary>The bootstrap this client was made from.</summary>
    public XdsBootstrap Bootstrap { get; }

    /// <summary>The trace sampling the control plane sets for this workload's outbound calls (from its client listeners).</summary>
    public Telemetry.TraceSampling ClientSampling { get; } = new();

    /// <summary>The node sent on the first request of every stream (a copy).</summary>
    public Node Node => _node.Clone();

    /// <summary>The clock of this client, which the DNS clusters of its targets re-resolve by too.</summary>
    internal TimeProvider TimeProvider => _time;

    /// <summary>How the names of DNS clusters (gRFC A37) are resolved: the system resolver unless a test says otherwise.</summary>
    internal Routing.DnsClusterResolver.ResolveHost ResolveHost { get; set; } = Routing.DnsClusterResolver.SystemResolver;

    /// <summary>How long a requested resource may take to arrive before it is deemed not to exist (15 s).</summary>
    internal TimeSpan DoesNotExistTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long the xDS connection may be idle before an HTTP/2 PING checks it (30 s by default), so that a
    /// half-open connection to a frozen or vanished server is noticed; <see cref="Timeout.InfiniteTimeSpan"/> for none.
    /// </summary>
    internal TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a keepalive PING may wait for its acknowledgement before the connection is closed (10 s).</summary>
    internal TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>While on a fallback server (gRFC A71): how often the primary is tried again (5 s by default).</summary>
    internal TimeSpan PrimaryRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The reconnect backoff (gRPC's connection backoff by default).</summary>
    internal XdsBackoffPolicy BackoffPolicy { get; set; } = XdsBackoffPolicy.Default;

    /// <summary>The source of backoff jitter: a uniform number in [0, 1).</summary>
    internal Func<double> JitterSource { get; set; } = Random.Shared.NextDouble;

    /// <summary>
    /// Starts watching <paramref name="name"/> of <paramref name="type"/>. The first watch of a name subscribes to it;
    /// a name already cached is delivered to <paramref name="watcher"/> right away (on the callback loop).
    /// </summary>
    /// <param name="type">The resource type.</param>
    /// <param name="name">The resource name.</param>
    /// <param name="watcher">Receives the updates.</param>
    /// <returns>Dispose to stop watching; the last watch of a name unsubscribes it and drops it from the cache.</returns>
    public IDisposable Watch(XdsResourceType type, string name, IXdsWatcher watcher)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(watcher);
        var registration = new WatchRegistration(this, type.TypeUrl, name, watcher);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_types.TryGetValue(type.TypeUrl, out var typeState))
            {
                typeState = new TypeState(type);
                _types.Add(type.TypeUrl, typeState);
            }

            if (typeState.Resources.TryGetValue(name, out var resource) && resource.Dropping)
            {
                // Watched again before a request without it went out: the server never saw it go, and will not
                // send it again (an unchanged subscription gets no response), so the cached state carries on.
                resource.Dropping = false;
                Log.Resubscribed(_logger, type.TypeUrl, name);
            }
            else if (resource is null)
            {
                resource = new ResourceState(type.TypeUrl, name);
                typeState.Resources.Add(name, resource);
                if (_state == XdsConnectionState.TransientFailure && ServeFromCacheLocked(typeState, resource, _time.GetUtcNow(), notify: false))
                {
                    MarkServingCacheLocked(1);
                }

                typeState.PendingWrite = true;
                _stream?.Enqueue(WriteItem.Subscription(type.TypeUrl));
                Log.Subscribing(_logger, type.TypeUrl, name);
            }

            resource.Watchers.Add(registration);
            if (resource.Value is { } cached)
            {
                Schedule(registration, CallbackKind.Changed, cached);
            }

            if (resource.Status == ClientResourceStatus.DoesNotExist)
            {
                Schedule(registration, CallbackKind.DoesNotExist, null);
            }
            else if (resource.Status == ClientResourceStatus.Nacked && resource.ErrorDetail is { } error)
            {
                Schedule(registration, CallbackKind.AmbientError, NackMessage(resource.TypeUrl, resource.Name, resource.ErrorVersion, error));
            }

            if (_connectionLoop is null)
            {
                _channel = CreateChannel(_server);
                _state = XdsConnectionState.Connecting;
                _connectionLoop = Task.Run(() => RunConnectionLoopAsync(_disposeCts.Token));
            }
        }

        return registration;
    }

    /// <summary>A snapshot of the connection, subscriptions, watched resources and counters.</summary>
    public XdsClientStatus GetStatus()
    {
        lock (_lock)
        {
            var types = new List<XdsTypeStatus>(_types.Count);
            var resources = new List<XdsResourceStatus>();
            foreach (var typeState in _types.Values.OrderBy(t => t.Type.TypeUrl, StringComparer.Ordinal))
            {
                var names = typeState.Resources.Keys.Order(StringComparer.Ordinal).ToList();
                types.Add(new XdsTypeStatus(
                    typeState.Type.TypeUrl, typeState.AckedVersion, typeState.Nonce, names,
                    typeState.LastNackDetail, typeState.LastNackVersion, typeState.LastNackAt));
                foreach (var name in names)
                {
                    var r = typeState.Resources[name];
                    resources.Add(new XdsResourceStatus(
                        r.TypeUrl, r.Name, r.Version, r.Status, r.Raw?.Clone(), r.ErrorDetail, r.ErrorVersion, r.ErrorAt,
                        r.LastUpdated, r.Watchers.Count, r.WatchState) { CachedSavedAt = r.CachedSavedAt });
                }
            }

            return new XdsClientStatus(
                _server.ServerUri,
                new XdsConnectionStatus(_state, _lastError, _lastErrorAt, _consecutiveFailures, _retryDelay, _nextAttemptAt)
                {
                    CacheDirectory = _cache?.Directory,
                    ServingCachedSince = _servingCacheSince,
                    CacheProblems = _cache?.Problems ?? [],
                },
                types,
                resources,
                new XdsClientCounters(
                    _streamsStarted, _streamsFailed, _streamsClosedAfterResponse, _responsesReceived, _acks, _nacks,
                    _resourcesAccepted, _resourcesRejected, _doesNotExistTimeouts));
        }
    }

    /// <summary>Completes once every watcher callback queued before the call has run (for tests).</summary>
    internal Task FlushCallbacksAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_callbacks.Writer.TryWrite(new WatcherCallback(null, CallbackKind.Flush, done)))
        {
            done.TrySetResult();
        }

        return done.Task;
    }

    /// <summary>Closes the stream, stops every timer and the callback loop. Watches end without further callbacks.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? connectionLoop;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _state = XdsConnectionState.Shutdown;
            foreach (var typeState in _types.Values)
            {
                foreach (var resource in typeState.Resources.Values)
                {
                    resource.StopTimer();
                }
            }

            connectionLoop = _connectionLoop;
        }

        await _disposeCts.CancelAsync().ConfigureAwait(false);
        if (connectionLoop is not null)
        {
            try
            {
                await connectionLoop.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.ConnectionLoopFailed(_logger, ex);
            }
        }

        _callbacks.Writer.TryComplete();
        _cacheWrites.Writer.TryComplete();
        await _cacheWriter.ConfigureAwait(false);

        // Disposing from inside a watcher callback must not wait for the loop that is running it.
        if (!t_inCallback)
        {
            await _callbackLoop.ConfigureAwait(false);
        }

        _channel?.Dispose();
        _disposeCts.Dispose();
    }

    private void Unwatch(WatchRegistration registration)
    {
        lock (_lock)
        {
            if (_disposed
                || !_types.TryGetValue(registration.TypeUrl, out var typeState)
                || !typeState.Resources.TryGetValue(registration.Name, out var resource)
                || !resource.Watchers.Remove(registration)
                || resource.Watchers.Count > 0)
            {
                return;
            }

            if (_stream is null)
            {
                resource.StopTimer();
                typeState.Resources.Remove(registration.Name);
            }
            else
            {
                // Dropped when the next request of the type is built (and then left out of it); until then a new
                // watch of the name takes it back with its value, as far as the server knows it never left.
                resource.Dropping = true;
            }

            typeState.PendingWrite = true;
            _stream?.Enqueue(WriteItem.Subscription(registration.TypeUrl));
            Log.Unsubscribing(_logger, registration.TypeUrl, registration.Name);
        }
    }

    private static string NackMessage(string typeUrl, string name, string? version, string error) =>
        $"xDS resource '{name}' of type {typeUrl} was rejected (version '{version}'): {error}";

    private static string GetUserAgentVersion()
    {
        var assembly = typeof(XdsClient).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }

    /// <summary>What the client knows about one resource type.</summary>
    private sealed class TypeState(XdsResourceType type)
    {
        public XdsResourceType Type { get; } = type;

        public Dictionary<string, ResourceState> Resources { get; } = new(StringComparer.Ordinal);

        /// <summary>The last version accepted; kept across streams, as the protocol asks.</summary>
        public string AckedVersion { get; set; } = string.Empty;

        /// <summary>The nonce of the last response on the current stream; reset on a new stream.</summary>
        public string Nonce { get; set; } = string.Empty;

        /// <summary>The subscribed names changed since the last request of this type went out.</summary>
        public bool PendingWrite { get; set; }

        /// <summary>A request of this type went out on the current stream.</summary>
        public bool SentOnStream { get; set; }

        /// <summary>ACKs/NACKs queued on the current stream and not yet written.</summary>
        public int PendingReplies { get; set; }

        public string? LastNackDetail { get; set; }

        public string? LastNackVersion { get; set; }

        public DateTimeOffset? LastNackAt { get; set; }
    }

    /// <summary>One watched resource: its watchers, cache, status and does-not-exist timer.</summary>
    private sealed class ResourceState(string typeUrl, string name)
    {
        public string TypeUrl { get; } = typeUrl;

        public string Name { get; } = name;

        public List<WatchRegistration> Watchers { get; } = [];

        public Any? Raw { get; set; }

        public object? Value { get; set; }

        public string Version { get; set; } = string.Empty;

        public ClientResourceStatus Status { get; set; } = ClientResourceStatus.Requested;

        public string? ErrorDetail { get; set; }

        public string? ErrorVersion { get; set; }

        public DateTimeOffset? ErrorAt { get; set; }

        public DateTimeOffset? LastUpdated { get; set; }

        /// <summary>When the value came from the persisted cache: when that file was saved; null for live values.</summary>
        public DateTimeOffset? CachedSavedAt { get; set; }

        public XdsWatchState WatchState { get; set; } = XdsWatchState.NotSent;

        /// <summary>The last watcher left; the resource goes when the next request of its type is built.</summary>
        public bool Dropping { get; set; }

        public ITimer? Timer { get; set; }

        /// <summary>Tells a stale timer callback (of a stopped timer) from the current one.</summary>
        public long TimerGeneration { get; set; }

        public void StopTimer()
        {
            Timer?.Dispose();
            Timer = null;
        }
    }

    /// <summary>One watch; disposing it ends the watch (once).</summary>
    private sealed class WatchRegistration(XdsClient client, string typeUrl, string name, IXdsWatcher watcher) : IDisposable
    {
        private int _disposed;

        public string TypeUrl { get; } = typeUrl;

        public string Name { get; } = name;

        public IXdsWatcher Watcher { get; } = watcher;

        public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                client.Unwatch(this);
            }
        }
    }
}
