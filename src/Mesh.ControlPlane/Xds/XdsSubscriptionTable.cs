namespace Mesh.ControlPlane.Xds;

/// <summary>
/// The subscriptions of every connected stream, each held once however many streams share it, and dropped when the
/// last stream holding it lets go (so the table is bounded by the streams and their bounded subscriptions).
/// </summary>
internal sealed class XdsSubscriptionTable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<XdsSubscription, XdsSubscription> _shared = [];

    /// <summary>Distinct subscriptions held.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _shared.Count;
            }
        }
    }

    /// <summary>The shared subscription to <paramref name="names"/> (any order, duplicates and <c>*</c> ignored); release it with <see cref="Release"/>.</summary>
    public XdsSubscription Acquire(string typeUrl, bool wildcard, IEnumerable<string> names)
    {
        var sorted = new SortedSet<string>(names, StringComparer.Ordinal);
        sorted.Remove("*");
        var candidate = new XdsSubscription(typeUrl, wildcard, [.. sorted]);
        lock (_lock)
        {
            if (!_shared.TryGetValue(candidate, out var shared))
            {
                shared = candidate;
                _shared.Add(shared, shared);
            }

            shared.References++;
            return shared;
        }
    }

    /// <summary>Lets go of a subscription from <see cref="Acquire"/>.</summary>
    public void Release(XdsSubscription? subscription)
    {
        if (subscription is null)
        {
            return;
        }

        lock (_lock)
        {
            if (--subscription.References == 0)
            {
                _shared.Remove(subscription);
            }
        }
    }
}
