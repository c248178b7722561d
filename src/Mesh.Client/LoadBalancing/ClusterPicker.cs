using Grpc.Core;
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
    /// The picker for a cluster's endpoints: ring hash, or round robin / least request over localities; calls wait
    /// while endpoints are connecting and fail when none can be reached.
    /// </summary>
    public static ClusterPicker Create(ClusterConfig config, IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities, ref RingHashPicker? ring, out bool ready, out bool connecting)
    {
        ready = false;
        connecting = false;
        if (config.Cluster is not { } cluster)
        {
            return Failing(config.Error ?? $"cluster '{config.Name}' is not available");
        }

        foreach (var (_, members) in localities)
        {
            foreach (var member in members)
            {
                ready |= member.Endpoint.State == ConnectivityState.Ready && !member.IsEjected;
                connecting |= member.Endpoint.State is ConnectivityState.Connecting or ConnectivityState.Idle;
            }
        }

        if (!ready)
        {
            return connecting ? Queueing : Failing(config.Error ?? $"no healthy endpoint in cluster '{cluster.Name}'");
        }

        if (cluster.LbPolicy == LbPolicyKind.RingHash)
        {
            return ring ??= RingHashPicker.Create(cluster, localities)!;
        }

        return LocalityPicker.Create(cluster, localities)!;
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
/// Round robin or least request over the ready endpoints of a cluster, honouring priorities (the lowest priority
/// with a ready endpoint takes the traffic) and locality weights (a locality is chosen by weight, then an endpoint
/// within it).
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
        uint? chosen = null;
        foreach (var (locality, endpoints) in localities)
        {
            if (Array.Exists(endpoints, e => e.Endpoint.State == ConnectivityState.Ready && !e.IsEjected) && (chosen is null || locality.Priority < chosen))
            {
                chosen = locality.Priority;
            }
        }

        if (chosen is null)
        {
            return null;
        }

        var list = new List<Locality>();
        foreach (var (locality, endpoints) in localities)
        {
            if (locality.Priority == chosen)
            {
                var ready = Array.FindAll(endpoints, e => e.Endpoint.State == ConnectivityState.Ready && !e.IsEjected);
                if (ready.Length > 0)
                {
                    list.Add(new Locality(locality.Weight, ready));
                }
            }
        }

        return new LocalityPicker([.. list], cluster.LbPolicy, (int)cluster.ChoiceCount);
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

    private sealed class Locality(uint weight, ClusterMember[] endpoints)
    {
        private int _next = Random.Shared.Next();

        public uint Weight { get; } = weight;

        public ClusterMember Next()
        {
            var index = (uint)Interlocked.Increment(ref _next) % (uint)endpoints.Length;
            return endpoints[index];
        }

        public ClusterMember LeastRequest(int choices)
        {
            if (endpoints.Length <= choices)
            {
                // As many choices as endpoints: look at all of them (from a random start, so ties spread).
                var start = Random.Shared.Next(endpoints.Length);
                var least = endpoints[start];
                for (var i = 1; i < endpoints.Length; i++)
                {
                    var candidate = endpoints[(start + i) % endpoints.Length];
                    if (candidate.Endpoint.InFlight < least.Endpoint.InFlight)
                    {
                        least = candidate;
                    }
                }

                return least;
            }

            var best = endpoints[Random.Shared.Next(endpoints.Length)];
            for (var i = 1; i < choices && endpoints.Length > 1; i++)
            {
                var candidate = endpoints[Random.Shared.Next(endpoints.Length)];
                if (candidate.Endpoint.InFlight < best.Endpoint.InFlight)
                {
                    best = candidate;
                }
            }

            return best;
        }
    }
}

/// <summary>
/// Consistent hashing (gRFC A42): a ring of endpoint entries sized by weight; a call's hash (from the route's hash
/// policy headers, or random when they are absent) lands on the ring, and the first ready endpoint from there
/// takes it. The ring is built when endpoints change; readiness is read at pick time.
/// </summary>
internal sealed class RingHashPicker : ClusterPicker
{
    private readonly ulong[] _hashes;
    private readonly ClusterMember[] _entries;

    public RingHashPicker(ulong[] hashes, ClusterMember[] entries)
    {
        _hashes = hashes;
        _entries = entries;
    }

    /// <summary>Builds the ring for the endpoints of the lowest priority.</summary>
    public static RingHashPicker? Create(ClusterResource cluster, IReadOnlyList<(LocalityResource Locality, ClusterMember[] Endpoints)> localities)
    {
        var weighted = new List<(ClusterMember Endpoint, double Weight)>();
        double total = 0;
        foreach (var (locality, endpoints) in localities)
        {
            if (locality.Priority != 0)
            {
                continue;
            }

            uint localityEndpointWeight = 0;
            foreach (var e in locality.Endpoints)
            {
                localityEndpointWeight += e.Weight;
            }

            for (var i = 0; i < endpoints.Length; i++)
            {
                var weight = locality.Weight * (double)locality.Endpoints[i].Weight / Math.Max(1u, localityEndpointWeight);
                weighted.Add((endpoints[i], weight));
                total += weight;
            }
        }

        if (weighted.Count == 0)
        {
            return null;
        }

        // Scale so the smallest weight gets at least one entry, within [min, max] ring size (A42).
        var minNormalized = weighted.Min(w => w.Weight / total);
        var scale = Math.Min(Math.Ceiling(minNormalized * cluster.MinRingSize) / minNormalized, cluster.MaxRingSize);
        var ring = new List<(ulong Hash, ClusterMember Endpoint)>((int)Math.Min(scale * 1.1 + weighted.Count, 9_000_000));
        double target = 0, current = 0;
        foreach (var (endpoint, weight) in weighted)
        {
            target += scale * weight / total;
            var n = 0;
            while (current < target)
            {
                ring.Add((StableHash.Hash($"{endpoint.Endpoint.Host}:{endpoint.Endpoint.Port}_{n}"), endpoint));
                current++;
                n++;
            }
        }

        ring.Sort(static (a, b) => a.Hash.CompareTo(b.Hash));
        return new RingHashPicker([.. ring.Select(r => r.Hash)], [.. ring.Select(r => r.Endpoint)]);
    }

    public override EndpointPick Pick<THeaders>(THeaders headers, RouteActionResource action)
    {
        ulong hash = 0;
        var hashed = false;
        foreach (var name in action.HashHeaders)
        {
            if (headers.Get(name) is { } value)
            {
                hash = hashed ? (hash << 1 | hash >> 63) ^ StableHash.Hash(value) : StableHash.Hash(value);
                hashed = true;
            }
        }

        if (!hashed)
        {
            hash = (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        }

        var start = Array.BinarySearch(_hashes, hash);
        if (start < 0)
        {
            start = ~start;
        }

        var connecting = false;
        for (var i = 0; i < _entries.Length; i++)
        {
            var member = _entries[(start + i) % _entries.Length];
            if (member.Endpoint.State == ConnectivityState.Ready && !member.IsEjected)
            {
                return EndpointPick.For(member);
            }

            connecting |= member.Endpoint.State is ConnectivityState.Connecting or ConnectivityState.Idle;
        }

        return connecting ? EndpointPick.Wait : EndpointPick.Fail("no ready endpoint in the ring");
    }
}

/// <summary>A 64-bit hash that is the same in every process (unlike string.GetHashCode): FNV-1a with a final mix.</summary>
internal static class StableHash
{
    public static ulong Hash(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        // splitmix64 finaliser, for good spread of nearby inputs.
        hash ^= hash >> 30;
        hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27;
        hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return hash;
    }
}
