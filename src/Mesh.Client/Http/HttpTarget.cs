using System.Collections.Frozen;
using Grpc.Core;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Mesh.Client.Xds;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Mesh.Client.Http;

/// <summary>
/// One HTTP target (<c>reviews</c>, <c>reviews:9080</c>) followed through xDS with the same dependency tracker and
/// <see cref="RouteTable"/> as gRPC channels. HTTP has no connectivity state, so every endpoint counts as ready;
/// per-endpoint state (in-flight calls) survives updates.
/// </summary>
internal sealed class HttpTarget : IDisposable
{
    private readonly XdsDependencyTracker _tracker;
    private readonly TaskCompletionSource _firstUpdate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private Dictionary<(string, int), EndpointState> _endpoints = [];
    private CancellationTokenSource _changed = new();

    public HttpTarget(XdsClient client, string name, ILogger logger)
    {
        Name = name;
        _tracker = new XdsDependencyTracker(client, name, OnUpdate, logger);
        _tracker.Start();
    }

    public string Name { get; }

    /// <summary>The routing table, or null before the first configuration.</summary>
    public RouteTable? Table { get; private set; }

    /// <summary>Why the target cannot be used, when it cannot.</summary>
    public string? Error { get; private set; }

    /// <summary>The endpoints of the default route (what a request to "/" with no headers would use).</summary>
    public IReadOnlyList<EndpointState> DefaultEndpoints { get; private set; } = [];

    /// <summary>Completes on the first configuration or error.</summary>
    public Task FirstUpdate => _firstUpdate.Task;

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
                Table = null;
            }
            else
            {
                Build(config);
                Error = null;
            }

            fired = _changed;
            _changed = new CancellationTokenSource();
        }

        _firstUpdate.TrySetResult();
        fired.Cancel();
        fired.Dispose();
    }

    private void Build(XdsConfig config)
    {
        var endpoints = new Dictionary<(string, int), EndpointState>();
        var pickers = new Dictionary<string, ClusterPicker>(StringComparer.Ordinal);
        var byCluster = new Dictionary<string, List<EndpointState>>(StringComparer.Ordinal);
        foreach (var (name, cluster) in config.Clusters)
        {
            var localities = new List<(LocalityResource, EndpointState[])>();
            var all = new List<EndpointState>();
            foreach (var locality in cluster.Endpoints?.Localities ?? [])
            {
                var states = new EndpointState[locality.Endpoints.Length];
                for (var i = 0; i < states.Length; i++)
                {
                    var key = (locality.Endpoints[i].Host, locality.Endpoints[i].Port);
                    if (!endpoints.TryGetValue(key, out var state) && !_endpoints.TryGetValue(key, out state))
                    {
                        state = new EndpointState(key.Host, key.Port, subchannel: null) { State = ConnectivityState.Ready };
                    }

                    endpoints[key] = state;
                    states[i] = state;
                    all.Add(state);
                }

                localities.Add((locality, states));
            }

            RingHashPicker? ring = null;
            pickers[name] = ClusterPicker.Create(cluster, localities, ref ring, out _, out _);
            byCluster[name] = all;
        }

        _endpoints = endpoints;
        Table = new RouteTable([.. config.VirtualHost.Routes], pickers.ToFrozenDictionary(StringComparer.Ordinal));

        // The default route: the first that a plain "GET /" matches.
        var defaults = new List<EndpointState>();
        foreach (var route in config.VirtualHost.Routes)
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

        DefaultEndpoints = defaults;
    }

    public void Dispose()
    {
        _tracker.Dispose();
        _changed.Dispose();
    }

    private sealed class NoHeaders : IRequestHeaders
    {
        public static readonly NoHeaders Instance = new();

        public string? Get(string name) => null;
    }
}
