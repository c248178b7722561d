using System.Collections.Immutable;
using Mesh.Client.Internal;
using Mesh.Client.Resources;
using Mesh.Client.Xds;
using Mesh.Gateway.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;

namespace Mesh.Gateway.Configuration;

/// <summary>
/// YARP's configuration, fed from xDS: for each server port the gateway serves, it watches the listener
/// <c>0.0.0.0_&lt;port&gt;</c> and the route configuration it names, and publishes one YARP route (and cluster) per
/// virtual host — matched on the server port and the virtual host's domains, carrying the listener and virtual host
/// names so the forwarded request is routed by Mesh.Client with that virtual host's rules. A listener whose
/// certificates do not load is reported and the last good one keeps serving; updates arrive as xDS pushes, never polled.
/// </summary>
internal sealed partial class GatewayXdsConfiguration : IProxyConfigProvider, IDisposable
{
    private readonly Lock _lock = new();
    private readonly XdsClientProvider _clients;
    private readonly GatewayCertificates _certificates;
    private readonly ILogger _logger;
    private readonly ImmutableSortedDictionary<int, GatewayPort> _ports;
    private GatewayProxyConfig _config = new([], [], new CancellationTokenSource());
    private bool _started;
    private bool _disposed;

    public GatewayXdsConfiguration(XdsClientProvider clients, GatewayCertificates certificates, IOptions<MeshGatewayOptions> options, ILogger<GatewayXdsConfiguration> logger)
    {
        _clients = clients;
        _certificates = certificates;
        _logger = logger;
        _ports = options.Value.Listeners.Keys.ToImmutableSortedDictionary(static p => p, static p => new GatewayPort(p));
    }

    /// <summary>Raised (outside any lock) after every change of a port's listener or routes.</summary>
    public event Action? Changed;

    /// <summary>The ports served.</summary>
    public IReadOnlyDictionary<int, GatewayPort> Ports => _ports;

    /// <inheritdoc />
    public IProxyConfig GetConfig()
    {
        Start();
        return Volatile.Read(ref _config);
    }

    /// <summary>Starts the watches (once).</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_started || _disposed)
            {
                return;
            }

            _started = true;
            foreach (var port in _ports.Values)
            {
                port.ListenerWatch = _clients.Client.Watch(XdsResourceTypes.ListenerType, port.ListenerName, new Watcher(r => OnListener(port, r), () => OnListenerMissing(port), m => OnAmbient(port.ListenerName, m)));
            }
        }
    }

    /// <summary>
    /// The serving side of <paramref name="port"/>'s listener (TLS, codec) once it has arrived, waiting up to
    /// <paramref name="wait"/>; null when there is none.
    /// </summary>
    public async Task<GatewayListenerResource?> WaitForListenerAsync(int port, TimeSpan wait, CancellationToken cancellationToken)
    {
        Start();
        if (!_ports.TryGetValue(port, out var state))
        {
            return null;
        }

        try
        {
            await state.FirstListener.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }

        lock (_lock)
        {
            return state.Listener?.Gateway;
        }
    }

    /// <summary>The serving side of <paramref name="port"/>'s listener in force, or null.</summary>
    public GatewayListenerResource? Current(int port)
    {
        lock (_lock)
        {
            return _ports.TryGetValue(port, out var state) ? state.Listener?.Gateway : null;
        }
    }

    private void OnListener(GatewayPort port, object resource)
    {
        var listener = (ListenerResource)resource;
        if (listener.Gateway?.Tls is { } tls && !_certificates.Preload(tls, out var error))
        {
            // A listener whose certificates do not load never replaces one that serves.
            Log.CertificatesRejected(_logger, port.ListenerName, error!);
            lock (_lock)
            {
                port.Error = error;
            }

            port.Answered();
            return;
        }

        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            port.Listener = listener;
            port.Error = listener.Gateway is null ? $"listener {port.ListenerName} is not a gateway listener (no address or filter chain)" : null;
            if (listener.RouteConfigName != port.RouteName)
            {
                port.RouteWatch?.Dispose();
                port.Routes = null;
                port.RouteName = listener.RouteConfigName;
                if (port.RouteName is { } routeName)
                {
                    port.RouteWatch = _clients.Client.Watch(XdsResourceTypes.RouteConfigurationType, routeName, new Watcher(r => OnRoutes(port, r), () => OnRoutesMissing(port), m => OnAmbient(routeName, m)));
                }
            }

            PublishLocked();
        }

        port.Answered();
        Changed?.Invoke();
    }

    private void OnListenerMissing(GatewayPort port)
    {
        Log.ListenerMissing(_logger, port.ListenerName);
        lock (_lock)
        {
            port.Listener = null;
            port.Error = $"listener {port.ListenerName} does not exist: no Gateway selecting this workload has a server on port {port.Port}";
            PublishLocked();
        }

        port.Answered();
        Changed?.Invoke();
    }

    private void OnRoutes(GatewayPort port, object resource)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            port.Routes = (RouteConfigResource)resource;
            PublishLocked();
        }

        Changed?.Invoke();
    }

    private void OnRoutesMissing(GatewayPort port)
    {
        lock (_lock)
        {
            port.Routes = null;
            PublishLocked();
        }

        Changed?.Invoke();
    }

    private void OnAmbient(string name, string message) => Log.Ambient(_logger, name, message);

    private void PublishLocked()
    {
        var routes = new List<RouteConfig>();
        var clusters = new List<ClusterConfig>();
        foreach (var port in _ports.Values)
        {
            if (port.Listener is null || port.Routes is null)
            {
                continue;
            }

            foreach (var vhost in port.Routes.VirtualHosts)
            {
                var id = port.ListenerName + "|" + vhost.Name;
                routes.Add(GatewayRouteBuilder.Route(id, port, vhost));
                clusters.Add(new ClusterConfig
                {
                    ClusterId = id,
                    Destinations = new Dictionary<string, DestinationConfig>(StringComparer.Ordinal)
                    {
                        // Never dialled: the request's own authority replaces it, and Mesh.Client picks the endpoint.
                        ["mesh"] = new DestinationConfig { Address = "http://mesh.gateway.invalid/" },
                    },
                });
            }
        }

        var previous = _config;
        _config = new GatewayProxyConfig(routes, clusters, new CancellationTokenSource());
        previous.Signal();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var port in _ports.Values)
            {
                port.ListenerWatch?.Dispose();
                port.RouteWatch?.Dispose();
            }
        }
    }

    private sealed class Watcher(Action<object> changed, Action missing, Action<string> ambient) : IXdsWatcher
    {
        public void OnResourceChanged(object resource) => changed(resource);

        public void OnResourceDoesNotExist() => missing();

        public void OnAmbientError(string message) => ambient(message);
    }

    private sealed class GatewayProxyConfig(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters, CancellationTokenSource changed) : IProxyConfig
    {
        public IReadOnlyList<RouteConfig> Routes { get; } = routes;

        public IReadOnlyList<ClusterConfig> Clusters { get; } = clusters;

        public IChangeToken ChangeToken { get; } = new CancellationChangeToken(changed.Token);

        public void Signal() => changed.Cancel();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Gateway listener {Listener} rejected, the last good one keeps serving: {Reason}")]
        public static partial void CertificatesRejected(ILogger logger, string listener, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Gateway listener {Listener} does not exist: no Gateway selecting this workload has a server on its port.")]
        public static partial void ListenerMissing(ILogger logger, string listener);

        [LoggerMessage(3, LogLevel.Warning, "xDS trouble for {Resource} (the last good configuration keeps serving): {Message}")]
        public static partial void Ambient(ILogger logger, string resource, string message);
    }
}
