using System.Collections.Frozen;
using Grpc.Core;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Mesh.Client.Xds;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Mesh.Client.Policies;

/// <summary>
/// Everything known about a target at one moment: routes, cluster pickers, route policies, and the clusters with outlier
/// detection (calls to those must report their outcome).
/// </summary>
internal sealed record MeshTargetState(RouteTable Table, RoutePolicy[] Policies, IReadOnlyList<EndpointState> DefaultEndpoints, FrozenSet<string> OutlierClusters);

/// <summary>
/// One target (<c>reviews</c>, <c>reviews:9080</c>) followed through xDS with the same dependency tracker and
/// <see cref="RouteTable"/> as gRPC channels, for the two places that act before a channel picks: the gRPC
/// interceptor (faults, timeouts, retries) and the HttpClient handler (all of it, HTTP has no balancer). Endpoints here
/// have no connectivity state and count as ready; per-endpoint state survives updates.
/// </summary>
internal sealed class MeshTarget : IDisposable
{
    private readonly XdsDependencyTracker _tracker;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource _firstUpdate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();

    // This target's random id for the io.grpc.channel_id hash policy (gRFC A42).
    private readonly ulong _channelId = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
    private Dictionary<(string, int), EndpointState> _endpoints = [];
    private Dictionary<string, ClusterCounter> _counters = new(StringComparer.Ordinal);
    private Dictionary<string, LoadBalancing.OutlierDetection.OutlierDetector<EndpointState>> _detectors = new(StringComparer.Ordinal);
    private readonly Security.CertificateProviderStore? _certificates;
    private Dictionary<string, Transport.ClusterTls> _tls = new(StringComparer.Ordinal);
    private Dictionary<string, PriorityFailover> _priorities = new(StringComparer.Ordinal);
    private XdsConfig? _config;
    private CancellationTokenSource _changed = new();

    private readonly TimeSpan _firstUpdateWait;

    private readonly ClusterRegistry _clusters;
    private readonly LoadReporting.ClusterLoadLeases _loads;

    public MeshTarget(XdsClient client, string name, TimeProvider time, ILogger logger, Security.CertificateProviderStore? certificates = null, TimeSpan? firstUpdateWait = null, ClusterRegistry? clusters = null, string? virtualHostName = null)
    {
        _clusters = clusters ?? new ClusterRegistry();
        _loads = new LoadReporting.ClusterLoadLeases(_clusters.Loads);
        Name = name;
        _firstUpdateWait = firstUpdateWait ?? TimeSpan.FromSeconds(15);
        _time = time;
        _certificates = certificates;
        _tracker = new XdsDependencyTracker(client, name, OnUpdate, logger, virtualHostName);
        _tracker.Start();
    }

    public string Name { get; }

    /// <summary>The current state, or null before the first configuration (or after an error).</summary>
    public MeshTargetState? State { get; private set; }

    /// <summary>Why the target cannot be used, when it cannot.</summary>
    public string? Error { get; private set; }

    /// <summary>Completes on the first configuration or error.</summary>
    public Task FirstUpdate => _firstUpdate.Task;

    /// <summary>
    /// Waits (at most <see cref="MeshClientOptions.FirstConfigurationWait"/>, on the injected clock) for the first
    /// configuration or error; afterwards <see cref="State"/> and <see cref="Error"/> say what is known.
    /// </summary>
    public async ValueTask WaitForFirstUpdateAsync(CancellationToken cancellationToken)
    {
        if (_firstUpdate.Task.IsCompleted)
        {
            return;
        }

        try
        {
            await _firstUpdate.Task.WaitAsync(_firstUpdateWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Error ??= $"no xDS configuration for '{Name}' within {_firstUpdateWait.TotalSeconds:0.#} s";
        }
    }

    /// <summary>A token that fires on the next update.</summary>
    public IChangeToken GetChangeToken()
    {
        lock (_lock)
        {
            return new CancellationChangeToken(_changed.Token);
        }
    }

    private void OnUpdate(XdsConfig? config, Status? error)
    {
        CancellationTokenSource fired;
        lock (_lock)
        {
            if (config is null)
            {
                Error = error?.Detail ?? "no xDS configuration";
                State = null;
            }
            else
            {
                _config = config;
                State = Build(config);
                Error = null;
            }

            fired = _changed;
            _changed = new CancellationTokenSource();
        }

        _firstUpdate.TrySetResult();
        fired.Cancel();
        fired.Dispose();
    }

    private MeshTargetState Build(XdsConfig config)
    {
        var endpoints = new Dictionary<(string, int), EndpointState>();
        var counters = new Dictionary<string, ClusterCounter>(StringComparer.Ordinal);
        var detectors = new Dictionary<string, LoadBalancing.OutlierDetection.OutlierDetector<EndpointState>>(StringComparer.Ordinal);
        var pickers = new Dictionary<string, ClusterPicker>(StringComparer.Ordinal);
        var byCluster = new Dictionary<string, List<EndpointState>>(StringComparer.Ordinal);
        var tlsByCluster = new Dictionary<string, Transport.ClusterTls>(StringComparer.Ordinal);
        var priorities = new Dictionary<string, PriorityFailover>(StringComparer.Ordinal);
        foreach (var (name, cluster) in config.Clusters)
        {
            var counter = _clusters.Counter(name, cluster.Cluster?.MaxRequests ?? 1024); // shared with every channel (A32)

            counters[name] = counter;
            var detector = DetectorFor(name, cluster.Cluster?.Outlier, detectors);
            var tls = Transport.ClusterTls.Reuse(_tls.GetValueOrDefault(name), cluster, _certificates);
            if (tls is not null)
            {
                tlsByCluster[name] = tls;
            }

            var localities = new List<(LocalityResource, ClusterMember[])>();
            var all = new List<EndpointState>();
            var clusterLoad = _loads.Use(name, cluster.Cluster); // A27: counted per locality when the cluster reports load
            foreach (var locality in cluster.Endpoints?.Localities ?? [])
            {
                var members = new ClusterMember[locality.Endpoints.Length];
                var load = clusterLoad?.Locality(locality.Region, locality.Zone, locality.SubZone);
                for (var i = 0; i < members.Length; i++)
                {
                    var key = (locality.Endpoints[i].Host, locality.Endpoints[i].Port);
                    if (!endpoints.TryGetValue(key, out var state) && !_endpoints.TryGetValue(key, out state))
                    {
                        state = new EndpointState(key.Host, key.Port, subchannel: null) { State = ConnectivityState.Ready, ActiveSince = _time.GetTimestamp() };
                    }

                    endpoints[key] = state;
                    members[i] = new ClusterMember(state, counter, detector, tls) { Cluster = name, Load = load };
                    all.Add(state);
                }

                localities.Add((locality, members));
            }

            detector?.Update(all);
            RingHashPicker? ring = null;

            // The same priority choice (gRFC A56) as the gRPC balancer; its failover timers rebuild the state.
            var chooser = _priorities.GetValueOrDefault(name) ?? new PriorityFailover(_time, OnEjectionsChanged);
            priorities[name] = chooser;
            pickers[name] = ClusterPicker.Create(cluster, localities, ref ring, out _, out _, _channelId, chooser, _time);
            byCluster[name] = all;
        }

        _loads.RemoveExcept(config.Clusters.Keys.ToHashSet(StringComparer.Ordinal));
        foreach (var (name, stale) in _detectors)
        {
            if (!detectors.ContainsKey(name))
            {
                stale.Dispose();
            }
        }

        foreach (var (name, stale) in _priorities)
        {
            if (!priorities.ContainsKey(name))
            {
                stale.Dispose();
            }
        }

        _priorities = priorities;
        _endpoints = endpoints;
        _counters = counters;
        _detectors = detectors;
        _tls = tlsByCluster;
        var routes = config.VirtualHost.Routes;
        var table = new RouteTable([.. routes], pickers.ToFrozenDictionary(StringComparer.Ordinal));
        var policies = new RoutePolicy[routes.Length];
        for (var i = 0; i < routes.Length; i++)
        {
            policies[i] = RoutePolicy.Compile(config, routes[i], _time);
        }

        // The default route: the first that a plain "GET /" matches.
        var defaults = new List<EndpointState>();
        foreach (var route in routes)
        {
            if (route.Match.Matches("/", NoHeaders.Instance))
            {
                foreach (var cluster in route.Action?.Clusters ?? [])
                {
                    if (byCluster.TryGetValue(cluster.Name, out var members))
                    {
                        defaults.AddRange(members.Where(m => !defaults.Contains(m)));
                    }
                }

                break;
            }
        }

        return new MeshTargetState(table, policies, defaults, detectors.Keys.ToFrozenSet(StringComparer.Ordinal));
    }

    /// <summary>The cluster's outlier detector, kept across updates; ejections rebuild the state so pickers skip them.</summary>
    private LoadBalancing.OutlierDetection.OutlierDetector<EndpointState>? DetectorFor(
        string cluster,
        LoadBalancing.OutlierDetection.OutlierDetectionConfig? config,
        Dictionary<string, LoadBalancing.OutlierDetection.OutlierDetector<EndpointState>> into)
    {
        if (config is null)
        {
            return null;
        }

        if (_detectors.TryGetValue(cluster, out var detector))
        {
            detector.UpdateConfig(config);
        }
        else
        {
            detector = new LoadBalancing.OutlierDetection.OutlierDetector<EndpointState>(config, _time);
            detector.EjectionsChanged += OnEjectionsChanged;
        }

        into[cluster] = detector;
        return detector;
    }

    private void OnEjectionsChanged()
    {
        lock (_lock)
        {
            if (_config is not null && State is not null)
            {
                State = Build(_config);
            }
        }
    }

    public void Dispose()
    {
        _tracker.Dispose();
        lock (_lock)
        {
            _loads.Dispose();
        }

        _changed.Dispose();
        foreach (var detector in _detectors.Values)
        {
            detector.Dispose();
        }

        foreach (var chooser in _priorities.Values)
        {
            chooser.Dispose();
        }
    }

    private sealed class NoHeaders : IRequestHeaders
    {
        public static readonly NoHeaders Instance = new();

        public string? Get(string name) => null;
    }
}
