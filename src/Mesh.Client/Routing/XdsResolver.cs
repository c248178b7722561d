using System.Collections.Immutable;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Mesh.Client.Resources;
using Mesh.Client.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Routing;

/// <summary>
/// Follows one target through xDS: its listener, the route configuration the listener names, every cluster the
/// chosen virtual host routes to, and each cluster's endpoints. Whenever the picture is complete it hands the
/// balancer an <see cref="XdsConfig"/>. XdsClient calls its watchers one at a time, so the state here is only
/// touched by one callback at a time; the lock guards against disposal.
/// </summary>
internal sealed partial class XdsDependencyTracker : IDisposable
{
    private readonly XdsClient _client;
    private readonly string _listenerName;
    private readonly string _authority;
    private readonly string? _virtualHostName;
    private readonly Action<XdsConfig?, Status?> _onUpdate;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ClusterEntry> _clusters = new(StringComparer.Ordinal);
    private IDisposable? _listenerWatch;
    private IDisposable? _routeWatch;
    private string? _routeName;
    private ListenerResource? _listener;
    private RouteConfigResource? _routeConfig;
    private bool _disposed;

    /// <param name="client">The xDS client.</param>
    /// <param name="listenerName">The listener to follow.</param>
    /// <param name="onUpdate">Receives each complete configuration, or the error that stands in for one.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="virtualHostName">
    /// The virtual host to follow by name (a gateway follows each virtual host of its route configuration); null to
    /// choose it by the listener name as authority, as a client does.
    /// </param>
    public XdsDependencyTracker(XdsClient client, string listenerName, Action<XdsConfig?, Status?> onUpdate, ILogger logger, string? virtualHostName = null)
    {
        _client = client;
        _listenerName = listenerName;
        _authority = listenerName;
        _virtualHostName = virtualHostName;
        _onUpdate = onUpdate;
        _logger = logger;
    }

    public void Start()
    {
        lock (_lock)
        {
            _listenerWatch = _client.Watch(XdsResourceTypes.ListenerType, _listenerName, new Watcher(OnListener, () => OnMissing("listener", _listenerName), OnAmbient));
        }
    }

    private void OnListener(object resource)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            if (resource is not ListenerResource listener)
            {
                _listener = null;
                _routeConfig = null;
                _onUpdate(null, new Status(StatusCode.Unavailable, $"xDS listener '{_listenerName}' is a server listener, not a client (API) listener"));
                return;
            }

            _listener = listener;
            _client.ClientSampling.Set(listener.RandomSampling); // the workload's trace sampling, applied live
            if (_listener.InlineRouteConfig is { } inline)
            {
                _routeWatch?.Dispose();
                _routeWatch = null;
                _routeName = null;
                _routeConfig = inline;
            }
            else if (_listener.RouteConfigName != _routeName)
            {
                _routeWatch?.Dispose();
                _routeConfig = null;
                _routeName = _listener.RouteConfigName!;
                var name = _routeName;
                _routeWatch = _client.Watch(XdsResourceTypes.RouteConfigurationType, name, new Watcher(OnRouteConfig, () => OnMissing("route configuration", name), OnAmbient));
            }

            UpdateLocked();
        }
    }

    private void OnRouteConfig(object resource)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _routeConfig = (RouteConfigResource)resource;
            UpdateLocked();
        }
    }

    private void OnMissing(string kind, string name)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            Log.ResourceMissing(_logger, kind, name, _listenerName);
            if (kind == "listener")
            {
                // The route configuration's watch stays (the listener may come back naming it, as after a SotW delete and
                // identical re-add), and so does its last value: RDS is not state-of-the-world, so the server need not
                // send it again when the listener returns.
                _listener = null;
            }
            else
            {
                _routeConfig = null;
            }

            _onUpdate(null, new Status(StatusCode.Unavailable, $"xDS {kind} '{name}' does not exist (target '{_listenerName}')"));
        }
    }

    private void OnAmbient(string message) => Log.AmbientError(_logger, _listenerName, message);

    private void UpdateLocked()
    {
        if (_listener is null || _routeConfig is null)
        {
            return;
        }

        var vhost = _virtualHostName is null ? VirtualHostSelector.Select(_routeConfig.VirtualHosts, _authority) : FindByName(_routeConfig.VirtualHosts, _virtualHostName);
        if (vhost is null)
        {
            _onUpdate(null, new Status(StatusCode.Unavailable, $"route configuration '{_routeConfig.Name}' has no virtual host for '{_virtualHostName ?? _authority}'"));
            return;
        }

        // Watch exactly the clusters the virtual host routes to.
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in vhost.Routes)
        {
            foreach (var cluster in route.Action?.Clusters ?? [])
            {
                wanted.Add(cluster.Name);
            }

            foreach (var mirror in route.HttpActions?.Mirrors ?? [])
            {
                wanted.Add(mirror.Cluster);
            }
        }

        foreach (var name in _clusters.Keys.ToList())
        {
            if (!wanted.Contains(name))
            {
                _clusters[name].Dispose();
                _clusters.Remove(name);
            }
        }

        foreach (var name in wanted)
        {
            if (!_clusters.ContainsKey(name))
            {
                var entry = new ClusterEntry(name);
                _clusters.Add(name, entry);
                entry.ClusterWatch = _client.Watch(XdsResourceTypes.ClusterType, name, new Watcher(r => OnCluster(entry, r), () => OnClusterMissing(entry), OnAmbient));
            }
        }

        // Publish only a complete picture: every cluster resolved (or known not to exist), with its endpoints.
        var clusters = ImmutableDictionary.CreateBuilder<string, ClusterConfig>(StringComparer.Ordinal);
        foreach (var (name, entry) in _clusters)
        {
            if (entry.Missing)
            {
                clusters.Add(name, new ClusterConfig(name, null, null, $"cluster '{name}' does not exist"));
                continue;
            }

            if (entry.Cluster is null || (entry.Endpoints is null && !entry.EndpointsMissing))
            {
                return;
            }

            clusters.Add(name, new ClusterConfig(name, entry.Cluster, entry.Endpoints, entry.EndpointsMissing ? entry.EndpointsError ?? $"endpoints of cluster '{name}' do not exist" : null));
        }

        _onUpdate(new XdsConfig(_listenerName, vhost, clusters.ToImmutable()) { HttpFilters = _listener.HttpFilters }, null);
    }

    private static VirtualHostResource? FindByName(System.Collections.Immutable.ImmutableArray<VirtualHostResource> hosts, string name)
    {
        foreach (var host in hosts)
        {
            if (host.Name == name)
            {
                return host;
            }
        }

        return null;
    }

    private void OnCluster(ClusterEntry entry, object resource)
    {
        lock (_lock)
        {
            if (_disposed || entry.Disposed)
            {
                return;
            }

            var cluster = (ClusterResource)resource;
            entry.Cluster = cluster;
            entry.Missing = false;
            if (cluster.DnsTargets is { } targets)
            {
                // A DNS cluster (gRFC A37): its endpoints come from resolving the names it lists, not from EDS.
                StartDns(entry, targets);
            }
            else if (entry.Dns is not null || entry.EdsName != cluster.EdsServiceName)
            {
                entry.StopDns();
                entry.EndpointsWatch?.Dispose();
                entry.Endpoints = null;
                entry.EndpointsMissing = false;
                entry.EdsName = cluster.EdsServiceName;
                entry.EndpointsWatch = _client.Watch(XdsResourceTypes.EndpointsType, cluster.EdsServiceName, new Watcher(r => OnEndpoints(entry, r), () => OnEndpointsMissing(entry), OnAmbient));
            }

            UpdateLocked();
        }
    }

    private void StartDns(ClusterEntry entry, EndpointsResource targets)
    {
        if (entry.Dns is { } running && SameTargets(running.Targets, targets))
        {
            return;
        }

        entry.StopDns();
        entry.EndpointsWatch?.Dispose();
        entry.EndpointsWatch = null;
        entry.EdsName = null;
        entry.Endpoints = null;
        entry.EndpointsMissing = false;
        var resolver = new DnsClusterResolver(targets, _client.ResolveHost, _client.TimeProvider, (endpoints, error) => OnResolved(entry, endpoints, error), _logger);
        entry.Dns = resolver;
        resolver.Start();
    }

    private static bool SameTargets(EndpointsResource a, EndpointsResource b)
    {
        if (a.Localities.Length != b.Localities.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Localities.Length; i++)
        {
            var (x, y) = (a.Localities[i], b.Localities[i]);
            if (x.Key != y.Key || x.Weight != y.Weight || x.Priority != y.Priority || !x.Endpoints.SequenceEqual(y.Endpoints))
            {
                return false;
            }
        }

        return true;
    }

    private void OnResolved(ClusterEntry entry, EndpointsResource? endpoints, string? error)
    {
        lock (_lock)
        {
            if (_disposed || entry.Disposed || entry.Dns is null)
            {
                return;
            }

            if (endpoints is not null)
            {
                entry.Endpoints = endpoints;
                entry.EndpointsMissing = false;
                entry.EndpointsError = null;
            }
            else
            {
                entry.Endpoints = null;
                entry.EndpointsMissing = true;
                entry.EndpointsError = error;
            }

            UpdateLocked();
        }
    }

    private void OnClusterMissing(ClusterEntry entry)
    {
        lock (_lock)
        {
            if (_disposed || entry.Disposed)
            {
                return;
            }

            Log.ResourceMissing(_logger, "cluster", entry.Name, _listenerName);
            entry.Missing = true;
            entry.Cluster = null;
            UpdateLocked();
        }
    }

    private void OnEndpoints(ClusterEntry entry, object resource)
    {
        lock (_lock)
        {
            if (_disposed || entry.Disposed)
            {
                return;
            }

            entry.Endpoints = (EndpointsResource)resource;
            entry.EndpointsMissing = false;
            UpdateLocked();
        }
    }

    private void OnEndpointsMissing(ClusterEntry entry)
    {
        lock (_lock)
        {
            if (_disposed || entry.Disposed)
            {
                return;
            }

            entry.Endpoints = null;
            entry.EndpointsMissing = true;
            UpdateLocked();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _listenerWatch?.Dispose();
            _routeWatch?.Dispose();
            foreach (var entry in _clusters.Values)
            {
                entry.Dispose();
            }

            _clusters.Clear();
        }
    }

    private sealed class ClusterEntry(string name) : IDisposable
    {
        public string Name { get; } = name;
        public IDisposable? ClusterWatch { get; set; }
        public IDisposable? EndpointsWatch { get; set; }
        public ClusterResource? Cluster { get; set; }
        public EndpointsResource? Endpoints { get; set; }
        public string? EdsName { get; set; }
        public bool Missing { get; set; }
        public bool EndpointsMissing { get; set; }
        public string? EndpointsError { get; set; }
        public DnsClusterResolver? Dns { get; set; }
        public bool Disposed { get; private set; }

        public void StopDns()
        {
            Dns?.Dispose();
            Dns = null;
            EndpointsError = null;
        }

        public void Dispose()
        {
            Disposed = true;
            ClusterWatch?.Dispose();
            EndpointsWatch?.Dispose();
            StopDns();
        }
    }

    private sealed class Watcher(Action<object> changed, Action missing, Action<string> ambient) : IXdsWatcher
    {
        public void OnResourceChanged(object resource) => changed(resource);

        public void OnResourceDoesNotExist() => missing();

        public void OnAmbientError(string message) => ambient(message);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "xDS {Kind} '{Name}' does not exist (target '{Target}').")]
        public static partial void ResourceMissing(ILogger logger, string kind, string name, string target);

        [LoggerMessage(2, LogLevel.Warning, "xDS trouble for target '{Target}', still using the last good configuration: {Message}")]
        public static partial void AmbientError(ILogger logger, string target, string message);
    }
}

/// <summary>The gRPC resolver for <c>xds:///target</c>: reports each complete <see cref="XdsConfig"/> to the channel.</summary>
internal sealed class XdsResolver : Resolver
{
    private readonly XdsDependencyTracker _tracker;
    private readonly bool _canSecure;
    private readonly LoadBalancing.ChannelPickers? _pickers;
    private Action<ResolverResult>? _listener;

    public XdsResolver(XdsClient client, string listenerName, bool canSecure, ILogger logger, LoadBalancing.ChannelPickers? pickers = null)
    {
        _canSecure = canSecure;
        _pickers = pickers;
        _tracker = new XdsDependencyTracker(client, listenerName, OnUpdate, logger);
    }

    public override void Start(Action<ResolverResult> listener)
    {
        _listener = listener;

        // Grpc.Net.Client (2.85) does not apply a call's deadline while it waits for a resolver's first result, so a
        // pending result goes out at once: the mesh balancer queues calls until the configuration arrives, and
        // queued calls do honour their deadline.
        listener(ResolverResult.ForResult([], XdsConfig.PendingServiceConfig, serviceConfigStatus: null));
        _tracker.Start();
    }

    private void OnUpdate(XdsConfig? config, Status? error)
    {
        if (config is null)
        {
            var status = error ?? new Status(StatusCode.Unavailable, "no xDS configuration");
            _listener?.Invoke(ResolverResult.ForResult([], XdsConfig.ErrorServiceConfig(status), serviceConfigStatus: null));
            return;
        }

        config = config with { CanSecureConnections = _canSecure, Pickers = _pickers };
        var addresses = new List<BalancerAddress>();
        var seen = new HashSet<(string, int)>();
        foreach (var cluster in config.Clusters.Values)
        {
            foreach (var locality in cluster.Endpoints?.Localities ?? [])
            {
                foreach (var endpoint in locality.Endpoints)
                {
                    if (seen.Add((endpoint.Host, endpoint.Port)))
                    {
                        addresses.Add(new BalancerAddress(endpoint.Host, endpoint.Port));
                    }
                }
            }
        }

        var result = ResolverResult.ForResult(addresses, config.ToServiceConfig(), serviceConfigStatus: null);
        result.Attributes.Set(XdsConfig.AttributeKey, config);
        _listener?.Invoke(result);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _tracker.Dispose();
        }

        base.Dispose(disposing);
    }
}
