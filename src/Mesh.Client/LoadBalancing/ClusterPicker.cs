using Grpc.Core;
using Mesh.Client.LoadBalancing.RingHash;
using Mesh.Client.Resources;
using Mesh.Client.Routing;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// Picks an endpoint of one cluster for one call. Built when the cluster's endpoints or their connectivity change,
/// never per call; <see cref="Pick"/> allocates nothing.
/// </summary>
internal abstract class ClusterPicker
{
    public abstract EndpointPick Pick<THeaders>(THeaders headers, RouteActionResource action)
        where THeaders : IRequestHeaders;

    /// <summary>A picker that fails every call with <paramref name="reason"/>.</summary>
    public static ClusterPicker Failing(string reason) => new FailingPicker(reason);

    /// <summary>A picker that makes calls wait for a connection.</summary>
    public static ClusterPicker Queueing { get; } = new QueueingPicker();

    /// <summary>
    /// The picker for a cluster's endpoints: ring hash, or round robin / least request over localities, in the
    /// priority <paramref name="priorities"/> chooses (gRFC A56); calls wait while that priority is connecting and
    /// fail when nothing can be reached. pick_first orders every priority's endpoints itself.
    /// </summary>
    /// <param name="config">The cluster's configuration.</param>
    /// <param name="localities">Its localities with their members.</param>
    /// <param name="ring">The cached ring-hash picker, built on first use (and again when the priority changes).</param>
    /// <param name="ready">Whether the cluster can take calls now.</param>
    /// <param name="connecting">Whether the cluster is connecting (calls wait).</param>
    /// <param name="channelId">The channel's random id for the channel-id hash policy (gRFC A42).</param>
    /// <param name="priorities">The cluster's priority chooser (failover timers); without one, the highest READY priority.</param>
    /// <param name="time">The clock slow start reads; the system clock when null.</param>
    public static ClusterPicker Create(
        ClusterConfig config,
        IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities,
        ref RingHashPicker? ring,
        out bool ready,
        out bool connecting,
        ulong channelId = 0,
        PriorityFailover? priorities = null,
        TimeProvider? time = null)
    {
        ready = false;
        connecting = false;
        if (config.Cluster is not { } cluster)
        {
            return Failing(config.Error ?? $"cluster '{config.Name}' is not available");
        }

        if (cluster.LbPolicy == LbPolicyKind.PickFirst)
        {
            foreach (var (_, members) in localities)
            {
                foreach (var member in members)
                {
                    ready |= member.Endpoint.State == ConnectivityState.Ready && !member.IsEjected;
                    connecting |= member.Endpoint.State is ConnectivityState.Connecting or ConnectivityState.Idle;
                }
            }

            return ready ? PickFirstPicker.Create(cluster, localities, channelId)
                : connecting ? Queueing : Failing(config.Error ?? $"no healthy endpoint in cluster '{cluster.Name}'");
        }

        var (priority, state) = priorities?.Choose(localities) ?? PriorityFailover.ChooseOnce(localities);
        ready = state == ConnectivityState.Ready;
        connecting = state == ConnectivityState.Connecting;
        if (!ready)
        {
            return connecting ? Queueing : Failing(config.Error ?? $"no healthy endpoint in cluster '{cluster.Name}'");
        }

        if (cluster.LbPolicy == LbPolicyKind.RingHash)
        {
            if (ring is not null && ring.Priority != (uint)priority)
            {
                ring = null;
            }

            ring ??= RingHashPicker.Create(cluster, localities, channelId, (uint)priority);
            return ring ?? Failing($"no endpoint with weight in cluster '{cluster.Name}'");
        }

        return LocalityPicker.Create(cluster, localities, (uint)priority, time ?? TimeProvider.System)!;
    }

    private sealed class FailingPicker(string reason) : ClusterPicker
    {
        public override EndpointPick Pick<THeaders>(THeaders headers, RouteActionResource action) => EndpointPick.Fail(reason);
    }

    private sealed class QueueingPicker : ClusterPicker
    {
        public override EndpointPick Pick<THeaders>(THeaders headers, RouteActionResource action) => EndpointPick.Wait;
    }
}

/// <summary>The outcome of picking: an endpoint, "wait for a connection", or a failure with its reason.</summary>
internal readonly struct EndpointPick
{
    private EndpointPick(ClusterMember? member, string? failure, bool drop)
    {
        Member = member;
        Failure = failure;
        IsDrop = drop;
    }

    /// <summary>Wait: endpoints are connecting.</summary>
    public static EndpointPick Wait => default;

    /// <summary>The chosen endpoint as a member of its cluster.</summary>
    public ClusterMember? Member { get; }

    public string? Failure { get; }

    /// <summary>A failure that must not be retried (the circuit breaker).</summary>
    public bool IsDrop { get; }

    public bool IsWait => Member is null && Failure is null;

    public static EndpointPick For(ClusterMember member) => new(member, null, drop: false);

    public static EndpointPick Fail(string reason) => new(null, reason, drop: false);

    public static EndpointPick Drop(string reason) => new(null, reason, drop: true);
}

/// <summary>
/// Round robin or least request over the ready endpoints of one priority of a cluster (the one
/// <see cref="PriorityFailover"/> chose), honouring locality weights (a locality is chosen by weight, then an endpoint
/// within it) and slow start (while an endpoint is within its window, endpoints are chosen at random by their
/// slow-start factor instead of in turn). Picks allocate nothing.
/// </summary>
internal sealed class LocalityPicker : ClusterPicker
{
    private readonly Locality[] _localities;
    private readonly uint[] _cumulative;
    private readonly uint _total;
    private readonly LbPolicyKind _policy;
    private readonly int _choiceCount;

    private LocalityPicker(Locality[] localities, LbPolicyKind policy, int choiceCount)
    {
        _localities = localities;
        _policy = policy;
        _choiceCount = choiceCount;
        _cumulative = new uint[localities.Length];
        uint total = 0;
        for (var i = 0; i < localities.Length; i++)
        {
            total += localities[i].Weight;
            _cumulative[i] = total;
        }

        _total = total;
    }

    /// <summary>Builds a picker over the ready endpoints of the highest-priority locality group that has any.</summary>
    public static LocalityPicker? Create(ClusterResource cluster, IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities)
    {
        var (priority, state) = PriorityFailover.ChooseOnce(localities);
        return state == ConnectivityState.Ready ? Create(cluster, localities, (uint)priority, TimeProvider.System) : null;
    }

    /// <summary>Builds a picker over the ready endpoints of <paramref name="priority"/>; null when it has none.</summary>
    public static LocalityPicker? Create(ClusterResource cluster, IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities, uint priority, TimeProvider time)
    {
        var list = new List<Locality>();
        foreach (var (locality, endpoints) in localities)
        {
            if (locality.Priority == priority)
            {
                var ready = Array.FindAll(endpoints, e => e.Endpoint.State == ConnectivityState.Ready && !e.IsEjected);
                if (ready.Length > 0)
                {
                    list.Add(new Locality(locality.Weight, ready, cluster.SlowStart, time));
                }
            }
        }

        return list.Count == 0 ? null : new LocalityPicker([.. list], cluster.LbPolicy, (int)cluster.ChoiceCount);
    }

    public override EndpointPick Pick<THeaders>(THeaders headers, RouteActionResource action)
    {
        var locality = _localities[0];
        if (_localities.Length > 1)
        {
            var ticket = (uint)Random.Shared.NextInt64(_total);
            var index = Array.BinarySearch(_cumulative, ticket + 1);
            locality = _localities[index >= 0 ? index : ~index];
        }

        return EndpointPick.For(_policy == LbPolicyKind.LeastRequest ? locality.LeastRequest(_choiceCount) : locality.Next());
    }

    private sealed class Locality
    {
        private readonly ClusterMember[] _endpoints;
        private readonly SlowStartConfig? _slowStart;
        private readonly TimeProvider _time;

        // The timestamp after which no endpoint here is in its slow-start window any more (0: none ever is).
        private readonly long _warmUntil;
        private int _next = Random.Shared.Next();

        public Locality(uint weight, ClusterMember[] endpoints, SlowStartConfig? slowStart, TimeProvider time)
        {
            Weight = weight;
            _endpoints = endpoints;
            _slowStart = slowStart;
            _time = time;
            if (slowStart is not null)
            {
                var window = (long)(slowStart.Window.TotalSeconds * time.TimestampFrequency);
                foreach (var member in endpoints)
                {
                    if (member.Endpoint.ActiveSince != 0)
                    {
                        _warmUntil = Math.Max(_warmUntil, member.Endpoint.ActiveSince + window);
                    }
                }
            }
        }

        public uint Weight { get; }

        public ClusterMember Next()
        {
            if (_warmUntil != 0 && _endpoints.Length > 1 && _time.GetTimestamp() < _warmUntil)
            {
                return Warming();
            }

            var index = (uint)Interlocked.Increment(ref _next) % (uint)_endpoints.Length;
            return _endpoints[index];
        }

        public ClusterMember LeastRequest(int choices)
        {
            var warming = _warmUntil != 0 && _endpoints.Length > 1 && _time.GetTimestamp() < _warmUntil;
            if (_endpoints.Length <= choices && !warming)
            {
                // As many choices as endpoints: look at all of them (from a random start, so ties spread).
                var start = Random.Shared.Next(_endpoints.Length);
                var least = _endpoints[start];
                for (var i = 1; i < _endpoints.Length; i++)
                {
                    var candidate = _endpoints[(start + i) % _endpoints.Length];
                    if (candidate.Endpoint.InFlight < least.Endpoint.InFlight)
                    {
                        least = candidate;
                    }
                }

                return least;
            }

            // Candidates at random (by slow-start factor while an endpoint warms up); the least loaded wins.
            var best = warming ? Warming() : _endpoints[Random.Shared.Next(_endpoints.Length)];
            for (var i = 1; i < choices && _endpoints.Length > 1; i++)
            {
                var candidate = warming ? Warming() : _endpoints[Random.Shared.Next(_endpoints.Length)];
                if (candidate.Endpoint.InFlight < best.Endpoint.InFlight)
                {
                    best = candidate;
                }
            }

            return best;
        }

        // An endpoint at random, each by its slow-start factor (Envoy's weight scaling; endpoint weights are not used
        // by round robin, as in gRPC).
        private ClusterMember Warming()
        {
            var now = _time.GetTimestamp();
            var total = 0.0;
            foreach (var member in _endpoints)
            {
                total += FactorOf(member, now);
            }

            var ticket = Random.Shared.NextDouble() * total;
            foreach (var member in _endpoints)
            {
                ticket -= FactorOf(member, now);
                if (ticket < 0)
                {
                    return member;
                }
            }

            return _endpoints[^1];
        }

        private double FactorOf(ClusterMember member, long now) =>
            member.Endpoint.ActiveSince == 0 ? 1 : _slowStart!.Factor(_time.GetElapsedTime(member.Endpoint.ActiveSince, now));
    }
}

/// <summary>
/// Consistent hashing (gRFC A42): the ring of <see cref="HashRing{T}"/> (XXH64 of <c>"{hashKey}_{i}"</c>, weights
/// = locality weight × endpoint weight, size within the cluster's bounds and gRPC's cap of 4096); a call's hash comes
/// from the route's hash policies (<see cref="RequestHash"/>), or is random when none produced one; the first entry
/// at or after it whose endpoint is ready takes the call. The ring is built when endpoints change; readiness is read
/// at pick time.
/// </summary>
internal sealed class RingHashPicker : ClusterPicker
{
    private readonly HashRing<ClusterMember> _ring;
    private readonly ulong _channelId;

    private RingHashPicker(HashRing<ClusterMember> ring, ulong channelId, uint priority)
    {
        _ring = ring;
        _channelId = channelId;
        Priority = priority;
    }

    /// <summary>The priority whose endpoints make the ring.</summary>
    public uint Priority { get; }

    /// <summary>The ring (for tests and diagnostics).</summary>
    public HashRing<ClusterMember> Ring => _ring;

    /// <summary>
    /// Builds the ring for the endpoints of <paramref name="priority"/> (by default the lowest priority that has
    /// endpoints); null when no endpoint has weight.
    /// </summary>
    /// <param name="cluster">The cluster, for its ring size bounds.</param>
    /// <param name="localities">The cluster's localities with their members.</param>
    /// <param name="channelId">The channel's random id, hashed by the channel-id hash policy.</param>
    /// <param name="priority">The priority chosen for the cluster's calls.</param>
    public static RingHashPicker? Create(ClusterResource cluster, IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities, ulong channelId, uint? priority = null)
    {
        if (priority is null)
        {
            foreach (var (locality, endpoints) in localities)
            {
                if (endpoints.Length > 0 && (priority is null || locality.Priority < priority))
                {
                    priority = locality.Priority;
                }
            }
        }

        var weighted = new List<RingEndpoint<ClusterMember>>();
        foreach (var (locality, endpoints) in localities)
        {
            if (locality.Priority != priority)
            {
                continue;
            }

            for (var i = 0; i < endpoints.Length; i++)
            {
                var endpoint = locality.Endpoints[i];
                weighted.Add(new RingEndpoint<ClusterMember>(endpoints[i], RingEndpoint<ClusterMember>.KeyOf(endpoint), (ulong)Math.Max(1u, locality.Weight) * Math.Max(1u, endpoint.Weight)));
            }
        }

        var ring = HashRing<ClusterMember>.Build(weighted, cluster.MinRingSize, cluster.MaxRingSize, HashRing<ClusterMember>.GrpcDefaultRingSizeCap);
        return ring.Count == 0 ? null : new RingHashPicker(ring, channelId, priority ?? 0);
    }

    /// <summary>The request hash of a call (A42), or a random one when no hash policy produced one.</summary>
    public ulong HashOf<THeaders>(THeaders headers, RouteActionResource action)
        where THeaders : IRequestHeaders =>
        RequestHash.Compute(action.HashPolicies, headers, static (h, name) => name == RequestHash.PathAndQuery ? h.PathAndQuery : h.Get(name), _channelId)
            ?? (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);

    public override EndpointPick Pick<THeaders>(THeaders headers, RouteActionResource action)
    {
        var start = _ring.IndexOf(HashOf(headers, action));
        var connecting = false;
        for (var i = 0; i < _ring.Count; i++)
        {
            var member = _ring.ItemAt((start + i) % _ring.Count);
            if (member.Endpoint.State == ConnectivityState.Ready && !member.IsEjected)
            {
                return EndpointPick.For(member);
            }

            connecting |= member.Endpoint.State is ConnectivityState.Connecting or ConnectivityState.Idle;
        }

        return connecting ? EndpointPick.Wait : EndpointPick.Fail("no ready endpoint in the ring");
    }
}

/// <summary>
/// pick_first (gRFC A62): the endpoints in address order (localities by priority, then as listed) and the first
/// ready one takes every call. With <c>shuffle_address_list</c> the order is a random permutation fixed per channel
/// (each endpoint's key hashed with the channel's random id), so a connectivity change does not reshuffle it.
/// </summary>
internal sealed class PickFirstPicker : ClusterPicker
{
    private readonly ClusterMember[] _ordered;

    private PickFirstPicker(ClusterMember[] ordered) => _ordered = ordered;

    /// <summary>The endpoints in the order they are tried.</summary>
    public IReadOnlyList<ClusterMember> Order => _ordered;

    /// <summary>Orders the cluster's endpoints for pick_first.</summary>
    /// <param name="cluster">The cluster, for its shuffle flag.</param>
    /// <param name="localities">Its localities with their members.</param>
    /// <param name="channelId">The channel's random id, the seed of the shuffle.</param>
    public static PickFirstPicker Create(ClusterResource cluster, IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities, ulong channelId)
    {
        var list = new List<(uint Priority, int Index, ulong Shuffle, ClusterMember Member)>();
        foreach (var (locality, endpoints) in localities)
        {
            for (var i = 0; i < endpoints.Length; i++)
            {
                var key = RingEndpoint<ClusterMember>.KeyOf(locality.Endpoints[i]);
                var shuffle = cluster.ShuffleAddressList ? Xxh64.Hash(key + "/" + channelId.ToString(System.Globalization.CultureInfo.InvariantCulture)) : 0;
                list.Add((locality.Priority, list.Count, shuffle, endpoints[i]));
            }
        }

        list.Sort(static (a, b) => a.Shuffle != b.Shuffle ? a.Shuffle.CompareTo(b.Shuffle) : a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : a.Index.CompareTo(b.Index));
        var ordered = new ClusterMember[list.Count];
        for (var i = 0; i < ordered.Length; i++)
        {
            ordered[i] = list[i].Member;
        }

        return new PickFirstPicker(ordered);
    }

    public override EndpointPick Pick<THeaders>(THeaders headers, RouteActionResource action)
    {
        foreach (var member in _ordered)
        {
            if (member.Endpoint.State == ConnectivityState.Ready && !member.IsEjected)
            {
                return EndpointPick.For(member);
            }
        }

        return EndpointPick.Wait;
    }
}
