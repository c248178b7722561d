using System.Collections.Concurrent;
using System.Net;
using Mesh.Client.Internal;
using Mesh.Client.Resources;
using Mesh.Client.Xds;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.Server.Listeners;

/// <summary>
/// A server listener configuration made ready to use: the decoded resource and, per filter chain, its compiled
/// authorization. Built on arrival; immutable.
/// </summary>
internal sealed class ServerListenerConfig
{
    public ServerListenerConfig(ServerListenerResource resource, IReadOnlyDictionary<FilterChainResource, ChainAuthorization> authorization)
    {
        Resource = resource;
        Authorization = authorization;
    }

    public ServerListenerResource Resource { get; }

    /// <summary>The authorization of each filter chain (reference-keyed).</summary>
    public IReadOnlyDictionary<FilterChainResource, ChainAuthorization> Authorization { get; }

    /// <summary>The chain for a TLS or plaintext connection, or null when the listener takes none such.</summary>
    public FilterChainResource? Select(bool tls)
    {
        var chain = Resource.Select(tls);
        return chain is not null && (chain.Tls is not null) == tls ? chain : null;
    }
}

/// <summary>
/// Follows the inbound listener of one listening address (gRFC A36: <c>grpc/server?xds.resource.listening_address=ip:port</c>)
/// and keeps the last good configuration. A configuration that cannot be used (its RBAC does not compile) is logged
/// and never replaces a good one, so policy never fails open. Until the first configuration arrives the server is
/// "not serving": connections wait for it, then are closed.
/// </summary>
internal sealed partial class ServerListenerWatcher : IXdsWatcher, IDisposable
{
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private IDisposable? _watch;
    private volatile ServerListenerConfig? _current;
    private volatile bool _missing;

    public ServerListenerWatcher(string name, ILogger logger)
    {
        Name = name;
        _logger = logger;
    }

    /// <summary>The listener resource name.</summary>
    public string Name { get; }

    /// <summary>The configuration in force, or null when there is none (yet, or the listener does not exist).</summary>
    public ServerListenerConfig? Current => _missing ? null : _current;

    /// <summary>Raised after <see cref="Current"/> changed (a new configuration, or the listener was deleted).</summary>
    public event Action? Changed;

    /// <summary>The last problem with the listener, for logs and diagnostics.</summary>
    public string? LastError { get; private set; }

    public void Start(XdsClient client) => _watch = client.Watch(XdsResourceTypes.ListenerType, Name, this);

    /// <summary>The configuration, waiting up to <paramref name="timeout"/> for the first one.</summary>
    public async ValueTask<ServerListenerConfig?> GetAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!_first.Task.IsCompleted)
        {
            try
            {
                await _first.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }

        return Current;
    }

    public void OnResourceChanged(object resource)
    {
        if (resource is not ServerListenerResource listener)
        {
            Reject("it is a client (API) listener, not a server listener");
            return;
        }

        var authorization = new Dictionary<FilterChainResource, ChainAuthorization>(ReferenceEqualityComparer.Instance);
        foreach (var chain in listener.DefaultChain is null ? listener.FilterChains : [.. listener.FilterChains, listener.DefaultChain])
        {
            if (!ChainAuthorization.TryCompile(chain, out var compiled, out var error))
            {
                Reject($"filter chain '{chain.Name}': {error}");
                return;
            }

            authorization[chain] = compiled;
        }

        _current = new ServerListenerConfig(listener, authorization);
        _missing = false;
        LastError = null;
        Log.Updated(_logger, Name, listener.FilterChains.Length);
        _first.TrySetResult();
        Changed?.Invoke();
    }

    public void OnResourceDoesNotExist()
    {
        _missing = true;
        LastError = "the listener does not exist";
        Log.Missing(_logger, Name);
        _first.TrySetResult();
        Changed?.Invoke();
    }

    public void OnAmbientError(string message)
    {
        LastError = message;
        Log.Ambient(_logger, Name, message);
    }

    public void Dispose() => _watch?.Dispose();

    private void Reject(string reason)
    {
        LastError = reason;
        Log.Rejected(_logger, Name, reason, _current is not null);
        if (_current is null)
        {
            // Nothing good to keep: stay not serving rather than serve without the policy.
            _first.TrySetResult();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Server listener {Name} updated: {Chains} filter chains.")]
        public static partial void Updated(ILogger logger, string name, int chains);

        [LoggerMessage(2, LogLevel.Warning, "Server listener {Name} does not exist; the server is not serving on it.")]
        public static partial void Missing(ILogger logger, string name);

        [LoggerMessage(3, LogLevel.Warning, "Server listener {Name}: {Message}")]
        public static partial void Ambient(ILogger logger, string name, string message);

        [LoggerMessage(4, LogLevel.Error, "Server listener {Name} rejected: {Reason}. Keeping the last good configuration: {KeptLastGood}.")]
        public static partial void Rejected(ILogger logger, string name, string reason, bool keptLastGood);
    }
}

/// <summary>The server listeners of the application, one per listening address, shared by every connection.</summary>
internal sealed class ServerListenerRegistry(XdsClientProvider clients, ILoggerFactory loggers) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<ServerListenerWatcher>> _watchers = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<ServerListenerWatcher>();

    /// <summary>The watcher of the listener for <paramref name="endpoint"/>, started on first use.</summary>
    public ServerListenerWatcher For(IPEndPoint endpoint)
    {
        var name = XdsSecurityNames.ServerListenerName(endpoint.Address.ToString(), endpoint.Port, clients.Client.Bootstrap.ServerListenerResourceNameTemplate);
        return _watchers.GetOrAdd(name, n => new Lazy<ServerListenerWatcher>(() =>
        {
            var watcher = new ServerListenerWatcher(n, _logger);
            watcher.Start(clients.Client);
            return watcher;
        })).Value;
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers.Values)
        {
            if (watcher.IsValueCreated)
            {
                watcher.Value.Dispose();
            }
        }
    }
}
