namespace Mesh.Client.LoadBalancing.RingHash;

/// <summary>
/// A ring-hash ring built exactly as gRFC A42 (and Envoy, grpc-go, grpc-java) build it, so that a request hash lands
/// on the same endpoint as in those implementations.
/// </summary>
/// <remarks>
/// <para>
/// Weights are normalised; the ring is scaled so that the lightest endpoint gets a whole number of entries:
/// <c>scale = min(ceil(minWeight × minRingSize) / minWeight, maxRingSize)</c>. Endpoints are taken in ordinal order of
/// their hash keys; each gets entries while the running count is below the running target
/// <c>Σ scale × weight</c>, entry <c>i</c> hashing <c>XXH64("{hashKey}_{i}")</c>. Entries are sorted by hash; a request
/// hash picks the first entry whose hash is at least it, wrapping to the first.
/// </para>
/// <para>
/// grpc-go and grpc-java also cap the ring at 4,096 entries by default (their <c>ring_hash_cap</c>), Envoy does not;
/// pass <see cref="GrpcDefaultRingSizeCap"/> as the cap to match the former on large rings.
/// </para>
/// </remarks>
/// <typeparam name="T">What a pick returns.</typeparam>
internal sealed class HashRing<T>
{
    /// <summary>gRPC's default ring size cap (grpc-go, grpc-java, C-core).</summary>
    public const ulong GrpcDefaultRingSizeCap = 4096;

    private readonly ulong[] _hashes;
    private readonly T[] _items;

    private HashRing(ulong[] hashes, T[] items)
    {
        _hashes = hashes;
        _items = items;
    }

    /// <summary>The number of entries.</summary>
    public int Count => _hashes.Length;

    /// <summary>Builds the ring; endpoints of weight 0 are left out.</summary>
    /// <param name="endpoints">The endpoints.</param>
    /// <param name="minRingSize">The cluster's minimum ring size (1024 by default).</param>
    /// <param name="maxRingSize">The cluster's maximum ring size (8M by default).</param>
    /// <param name="ringSizeCap">A further cap on both sizes (gRPC's ring_hash_cap); null for none, as Envoy.</param>
    /// <returns>The ring, empty when no endpoint has weight.</returns>
    public static HashRing<T> Build(IReadOnlyList<RingEndpoint<T>> endpoints, ulong minRingSize, ulong maxRingSize, ulong? ringSizeCap = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (ringSizeCap is { } cap)
        {
            minRingSize = Math.Min(minRingSize, cap);
            maxRingSize = Math.Min(maxRingSize, cap);
        }

        var sorted = new List<RingEndpoint<T>>(endpoints.Count);
        ulong total = 0;
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Weight > 0)
            {
                sorted.Add(endpoint);
                total += endpoint.Weight;
            }
        }

        if (sorted.Count == 0)
        {
            return new HashRing<T>([], []);
        }

        sorted.Sort(static (a, b) => string.CompareOrdinal(a.HashKey, b.HashKey));
        var minWeight = 1.0;
        foreach (var endpoint in sorted)
        {
            minWeight = Math.Min(minWeight, endpoint.Weight / (double)total);
        }

        var scale = Math.Min(Math.Ceiling(minWeight * minRingSize) / minWeight, maxRingSize);
        var entries = new List<(ulong Hash, T Item)>((int)Math.Min(Math.Ceiling(scale) + sorted.Count, int.MaxValue / 2));
        double current = 0, target = 0;
        foreach (var endpoint in sorted)
        {
            target += scale * (endpoint.Weight / (double)total);
            var index = 0;
            while (current < target)
            {
                entries.Add((Xxh64.Hash(endpoint.HashKey + "_" + index.ToString(System.Globalization.CultureInfo.InvariantCulture)), endpoint.Item));
                index++;
                current++;
            }
        }

        // A stable sort, so equal hashes (vanishingly rare) keep the build order as in the other implementations.
        var ordered = entries.Select((e, i) => (e.Hash, e.Item, i)).OrderBy(e => e.Hash).ThenBy(e => e.i).ToArray();
        var hashes = new ulong[ordered.Length];
        var items = new T[ordered.Length];
        for (var i = 0; i < ordered.Length; i++)
        {
            hashes[i] = ordered[i].Hash;
            items[i] = ordered[i].Item;
        }

        return new HashRing<T>(hashes, items);
    }

    /// <summary>The hash of entry <paramref name="index"/>.</summary>
    public ulong HashAt(int index) => _hashes[index];

    /// <summary>The item of entry <paramref name="index"/>.</summary>
    public T ItemAt(int index) => _items[index];

    /// <summary>The entry a request hash lands on: the first whose hash is at least it, wrapping to 0.</summary>
    public int IndexOf(ulong requestHash)
    {
        if (_hashes.Length == 0)
        {
            throw new InvalidOperationException("The ring is empty.");
        }

        var index = Array.BinarySearch(_hashes, requestHash);
        if (index < 0)
        {
            index = ~index;
        }
        else
        {
            while (index > 0 && _hashes[index - 1] == requestHash)
            {
                index--; // the first of equal hashes
            }
        }

        return index == _hashes.Length ? 0 : index;
    }

    /// <summary>The item a request hash lands on (the balancer walks on from <see cref="IndexOf"/> past unready ones).</summary>
    public T Pick(ulong requestHash) => _items[IndexOf(requestHash)];
}
