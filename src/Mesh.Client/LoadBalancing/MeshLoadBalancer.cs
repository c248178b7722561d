using System.Collections.Frozen;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.LoadBalancing;

/// <summary>Creates <see cref="MeshLoadBalancer"/>s; the xDS resolver's service config names this policy.</summary>
internal sealed class MeshLoadBalancerFactory : LoadBalancerFactory
{
    public const string PolicyName = "mesh_xds";

    public override string Name => PolicyName;

    private readonly TimeProvider _time;
    private readonly Security.CertificateProviderStore? _certificates;
    private readonly ClusterRegistry _clusters;

    public MeshLoadBalancerFactory(TimeProvider time, Security.CertificateProviderStore? certificates = null, ClusterRegistry? clusters = null)
    {
        _time = time;
        _certificates = certificates;
        _clusters = clusters ?? new ClusterRegistry();
    }

    public override LoadBalancer Create(LoadBalancerOptions options) =>
        new MeshLoadBalancer(options.Controller, _time, options.LoggerFactory.CreateLogger<MeshLoadBalancer>(), _certificates, _clusters);
}

/// <summary>
/// The balancer of an <c>xds:///</c> channel. From each <see cref="XdsConfig"/> it keeps one subchannel per backend
/// address (shared by every cluster listing it), and after every configuration or connectivity change it builds a
/// new <see cref="MeshPicker"/>: routes in front, a <see cref="ClusterPicker"/> per cluster behind.
/// </summary>
internal sealed partial class MeshLoadBalancer : LoadBalancer
{
    private readonly IChannelControlHelper _controller;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Host, int Port), EndpointState> _endpoints = [];
    private readonly Dictionary<string, ClusterEntry> _clusters = new(StringComparer.Ordinal);
    private XdsConfig? _config;
    private Policies.RoutePolicy[] _policies = [];
    private ChannelPickers? _pickers;
    private long _version;

    // The channel's random id, hashed by the io.grpc.channel_id hash policy (gRFC A42): one per channel.
    private readonly ulong _channelId = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
    private long _published;
    private bool _disposed;

    private readonly TimeProvider _time;
    private readonly Security.CertificateProviderStore? _certificates;

    private readonly ClusterRegistry _registry;
    private readonly LoadReporting.ClusterLoadLeases _loads;

    public MeshLoadBalancer(IChannelControlHelper controller, TimeProvider time, ILogger logger, Security.CertificateProviderStore? certificates = null, ClusterRegistry? registry = null)
    {
        _registry = registry ?? new ClusterRegistry();
        _loads = new LoadReporting.ClusterLoadLeases(_registry.Loads);
        _controller = controller;
        _time = time;
        _logger = logger;
        _certificates = certificates;
    }

    public override void UpdateChannelState(ChannelState state)
    {
        if (XdsConfig.From(state) is not { } config)
        {
            if (XdsConfig.ErrorFrom(state) is { } error)
            {
                lock (_lock)
                {
                    _config = null;
                    _version++;
                }

                Publish(ConnectivityState.TransientFailure, new FailingChannelPicker(error));
                _pickers?.Publish(null);
            }
            else
            {
                // Configuration not here yet: calls wait (within their deadlines) for it.
                Publish(ConnectivityState.Connecting, QueueingChannelPicker.Instance);
            }

            return;
        }

        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            if (!ReferenceEquals(_config?.VirtualHost, config.VirtualHost) || _config?.HttpFilters != config.HttpFilters)
            {
                // Route policies are compiled once per route configuration, never per call.
                var routes = config.VirtualHost.Routes;
                var policies = new Policies.RoutePolicy[routes.Length];
                for (var i = 0; i < routes.Length; i++)
                {
                    policies[i] = Policies.RoutePolicy.Compile(config, routes[i], _time);
                }

                _policies = policies;
                ReportNotApplied(config.VirtualHost);
            }

            _config = config;
            _pickers = config.Pickers ?? _pickers;
            var keep = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, cluster) in config.Clusters)
            {
                keep.Add(name);
                if (!_clusters.TryGetValue(name, out var entry))
                {
                    entry = new ClusterEntry(new PriorityFailover(_time, UpdatePicker));
                    _clusters.Add(name, entry);
                }

                if (!ReferenceEquals(entry.Config, cluster))
                {
                    UpdateClusterLocked(entry, cluster);
                }
            }

            foreach (var name in _clusters.Keys.ToList())
            {
                if (!keep.Contains(name))
                {
                    ReleaseLocked(_clusters[name]);
                    _clusters[name].Detector?.Dispose();
                    _clusters[name].Priorities.Dispose();
                    _loads.Remove(name);
                    _clusters.Remove(name);
                }
            }
        }

        UpdatePicker();
    }

    // Route actions an RPC does not get are reported once per route configuration, never dropped silently.
    private void ReportNotApplied(VirtualHostResource host)
    {
        for (var i = 0; i < host.Routes.Length; i++)
        {
            if (host.Routes[i].HttpActions?.NotAppliedToGrpc() is { } actions)
            {
                Log.RouteActionsNotApplied(_logger, host.Routes[i].Name.Length > 0 ? host.Routes[i].Name : "#" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), host.Name, actions);
            }
        }
    }

    private void UpdateClusterLocked(ClusterEntry entry, ClusterConfig cluster)
    {
        var previous = entry.Localities;
        entry.Counter = _registry.Counter(cluster.Name, cluster.Cluster?.MaxRequests ?? 1024); // shared by the whole process (A32)

        if (cluster.Cluster?.Outlier is { } outlier)
        {
            if (entry.Detector is null)
            {
                entry.Detector = new OutlierDetection.OutlierDetector<EndpointState>(outlier, _time, _logger);
                entry.Detector.EjectionsChanged += UpdatePicker;
            }
            else
            {
                entry.Detector.UpdateConfig(outlier);
            }
        }
        else if (entry.Detector is not null)
        {
            entry.Detector.Dispose();
            entry.Detector = null;
        }

        entry.Tls = Transport.ClusterTls.Reuse(entry.Tls, cluster, _certificates, _config?.CanSecureConnections ?? true);
        var localities = new List<(LocalityResource, ClusterMember[])>();
        var all = new List<EndpointState>();
        var clusterLoad = _loads.Use(cluster.Name, cluster.Cluster); // A27: counted per locality when the cluster reports load
        foreach (var locality in cluster.Endpoints?.Localities ?? [])
        {
            var members = new ClusterMember[locality.Endpoints.Length];
            var load = clusterLoad?.Locality(locality.Region, locality.Zone, locality.SubZone);
            for (var i = 0; i < members.Length; i++)
            {
                var endpoint = AcquireLocked(locality.Endpoints[i].Host, locality.Endpoints[i].Port);
                members[i] = new ClusterMember(endpoint, entry.Counter, entry.Detector, entry.Tls) { Cluster = cluster.Name, Load = load };
                all.Add(endpoint);
            }

            localities.Add((locality, members));
        }

        entry.Detector?.Update(all);

        entry.Config = cluster;
        entry.Localities = localities;
        entry.Ring = null;
        foreach (var (_, members) in previous)
        {
            foreach (var member in members)
            {
                ReleaseLocked(member.Endpoint);
            }
        }
    }

    private EndpointState AcquireLocked(string host, int port)
    {
        if (!_endpoints.TryGetValue((host, port), out var state))
        {
            var subchannel = _controller.CreateSubchannel(new SubchannelOptions([new BalancerAddress(host, port)]));
            state = new EndpointState(host, port, subchannel);
            var captured = state;
            state.StateRegistration = subchannel.OnStateChanged(s => OnSubchannelStateChanged(captured, s));
            _endpoints.Add((host, port), state);
            subchannel.RequestConnection();
        }

        state.References++;
        return state;
    }

    private void ReleaseLocked(ClusterEntry entry)
    {
        foreach (var (_, members) in entry.Localities)
        {
            foreach (var member in members)
            {
                ReleaseLocked(member.Endpoint);
            }
        }

        entry.Localities = [];
    }

    private void ReleaseLocked(EndpointState state)
    {
        if (--state.References > 0)
        {
            return;
        }

        _endpoints.Remove((state.Host, state.Port));
        state.StateRegistration?.Dispose();
        state.Subchannel!.Dispose();
    }

    private void OnSubchannelStateChanged(EndpointState endpoint, SubchannelState state)
    {
        lock (_lock)
        {
            if (_disposed || endpoint.References == 0)
            {
                return;
            }

            endpoint.State = state.State;
            if (state.State == ConnectivityState.TransientFailure)
            {
                endpoint.ActiveSince = 0; // it joins again on its next READY
            }
            else if (state.State == ConnectivityState.Ready && endpoint.ActiveSince == 0)
            {
                // Joined (or back after a failure): slow start, when the cluster has it, ramps it up from now.
                endpoint.ActiveSince = _time.GetTimestamp();
            }

            Log.EndpointState(_logger, endpoint.Host, endpoint.Port, state.State);
        }

        if (state.State == ConnectivityState.Idle)
        {
            endpoint.Subchannel!.RequestConnection(); // keep every endpoint connected, as round robin does.
        }

        UpdatePicker();
    }

    private void UpdatePicker()
    {
        MeshPicker picker;
        ConnectivityState channelState;
        long version;
        lock (_lock)
        {
            if (_disposed || _config is not { } config)
            {
                return;
            }

            var pickers = new Dictionary<string, ClusterPicker>(StringComparer.Ordinal);
            var anyReady = false;
            var anyConnecting = false;
            foreach (var (name, entry) in _clusters)
            {
                var ring = entry.Ring;
                var ready = false;
                var connecting = false;
                pickers[name] = entry.Config is { } clusterConfig
                    ? ClusterPicker.Create(clusterConfig, entry.Localities, ref ring, out ready, out connecting, _channelId, entry.Priorities, _time)
                    : ClusterPicker.Failing("cluster not resolved");
                entry.Ring = ring;
                anyReady |= ready;
                anyConnecting |= connecting;
            }

            var table = new RouteTable([.. config.VirtualHost.Routes], pickers.ToFrozenDictionary(StringComparer.Ordinal));
            picker = new MeshPicker(table, _policies, _pickers);
            channelState = anyReady ? ConnectivityState.Ready : anyConnecting ? ConnectivityState.Connecting : ConnectivityState.TransientFailure;
            version = ++_version;
        }

        Publish(channelState, picker, version);
    }

    private void Publish(ConnectivityState state, SubchannelPicker picker, long version = long.MaxValue)
    {
        // Published outside the lock (the channel takes its own lock); a stale picker never replaces a newer one.
        if (version != long.MaxValue)
        {
            var published = Interlocked.Read(ref _published);
            if (version < published || Interlocked.CompareExchange(ref _published, version, published) != published)
            {
                return;
            }
        }

        _controller.UpdateState(new BalancerState(state, picker));
        if (picker is MeshPicker mesh)
        {
            _pickers?.Publish(mesh);
        }
    }

    public override void RequestConnection()
    {
        lock (_lock)
        {
            foreach (var endpoint in _endpoints.Values)
            {
                if (endpoint.State == ConnectivityState.Idle)
                {
                    endpoint.Subchannel!.RequestConnection();
                }
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_lock)
            {
                _disposed = true;
                foreach (var endpoint in _endpoints.Values)
                {
                    endpoint.StateRegistration?.Dispose();
                    endpoint.Subchannel!.Dispose();
                }

                _endpoints.Clear();
                foreach (var cluster in _clusters.Values)
                {
                    cluster.Detector?.Dispose();
                    cluster.Priorities.Dispose();
                }

                _clusters.Clear();
                _loads.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    private sealed class ClusterEntry(PriorityFailover priorities)
    {
        /// <summary>The cluster's priority choice (gRFC A56), kept across updates for its failover timers.</summary>
        public PriorityFailover Priorities { get; } = priorities;

        public ClusterConfig? Config { get; set; }
        public List<(LocalityResource Locality, ClusterMember[] Endpoints)> Localities { get; set; } = [];
        public RingHashPicker? Ring { get; set; }
        public ClusterCounter Counter { get; set; } = new(1024);
        public OutlierDetection.OutlierDetector<EndpointState>? Detector { get; set; }

        public Transport.ClusterTls? Tls { get; set; }
    }

    private sealed class QueueingChannelPicker : SubchannelPicker
    {
        public static readonly QueueingChannelPicker Instance = new();
        private static readonly PickResult Queue = PickResult.ForQueue();

        public override PickResult Pick(PickContext context) => Queue;
    }

    private sealed class FailingChannelPicker(Status status) : SubchannelPicker
    {
        private readonly PickResult _result = PickResult.ForFailure(status);

        public override PickResult Pick(PickContext context) => _result;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Endpoint {Host}:{Port} is {State}.")]
        public static partial void EndpointState(ILogger logger, string host, int port, ConnectivityState state);

        [LoggerMessage(2, LogLevel.Warning, "Route {Route} of virtual host {VirtualHost}: {Actions} not applied to gRPC calls (proxyless gRPC does not apply them, gRFC A28); HttpClient calls through AddMeshRouting() apply them.")]
        public static partial void RouteActionsNotApplied(ILogger logger, string route, string virtualHost, string actions);
    }
}
