using Mesh.Xds;

namespace Mesh.ControlPlane.Xds;

/// <summary>
/// What a stream subscribed to for one type: the names (sorted, distinct, without <c>*</c>) and whether it is a wildcard
/// subscription. Immutable and shared: every stream with the same subscription (the replicas of one workload) holds the
/// same instance from <see cref="XdsSubscriptionTable"/>, so a stream's memory does not grow with the names it
/// subscribed to, and what a subscription resolves to in a resource set is worked out once for all of them
/// (<see cref="XdsResolvedMemo"/>).
/// </summary>
internal sealed class XdsSubscription : IEquatable<XdsSubscription>
{
    private readonly int _hash;

    /// <summary>Creates a subscription from names already sorted (ordinal) and distinct.</summary>
    public XdsSubscription(string typeUrl, bool wildcard, string[] sortedNames)
    {
        TypeUrl = typeUrl;
        Wildcard = wildcard;
        Names = sortedNames;
        var hash = new HashCode();
        hash.Add(typeUrl, StringComparer.Ordinal);
        hash.Add(wildcard);
        foreach (var name in sortedNames)
        {
            hash.Add(name, StringComparer.Ordinal);
            if (typeUrl == XdsTypeUrls.Listener && XdsSecurityNames.TryParseServerListenerName(name, out _, out _))
            {
                IsWorkloadScoped = true;
            }
        }

        _hash = hash.ToHashCode();
    }

    /// <summary>The resource type.</summary>
    public string TypeUrl { get; }

    /// <summary>Whether the stream subscribed to every resource of the type.</summary>
    public bool Wildcard { get; }

    /// <summary>The names, sorted (ordinal) and distinct.</summary>
    public string[] Names { get; }

    /// <summary>
    /// Whether a name is a server listener (gRFC A36): those are served only to a client that may act as the workload,
    /// so what the subscription resolves to depends on the stream's identity and is not shared.
    /// </summary>
    public bool IsWorkloadScoped { get; }

    /// <summary>References held by streams; guarded by the table's lock.</summary>
    internal int References { get; set; }

    /// <summary>Whether <paramref name="name"/> is one of the names.</summary>
    public bool Contains(string name) => Array.BinarySearch(Names, name, StringComparer.Ordinal) >= 0;

    /// <summary>
    /// Whether <paramref name="names"/> (in any order, possibly with <c>*</c>) are exactly this subscription's names,
    /// without allocating: what an ACK repeating the subscription carries.
    /// </summary>
    public bool HasNames(IReadOnlyList<string> names)
    {
        var count = 0;
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == "*")
            {
                continue;
            }

            if (!Contains(names[i]))
            {
                return false;
            }

            count++;
        }

        return count == Names.Length; // a request repeating a name falls through to the full comparison.
    }

    /// <inheritdoc />
    public bool Equals(XdsSubscription? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (other is null || other._hash != _hash || other.Wildcard != Wildcard || other.TypeUrl != TypeUrl || other.Names.Length != Names.Length)
        {
            return false;
        }

        for (var i = 0; i < Names.Length; i++)
        {
            if (!string.Equals(Names[i], other.Names[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as XdsSubscription);

    /// <inheritdoc />
    public override int GetHashCode() => _hash;
}
