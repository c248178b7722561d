using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Mesh.ControlPlane.Translation;

namespace Mesh.ControlPlane.Xds;

/// <summary>
/// What each shared subscription resolves to, per resource set (one snapshot version, or one Envoy sidecar's flavour
/// of it) and client workload: worked out by the first stream that asks and reused by every other, so a push to
/// 10,000 streams resolves each distinct subscription once rather than every name once per stream. Entries go with
/// their set; per set they are bounded (<see cref="MaxEntriesPerSet"/>), past which streams resolve for themselves.
/// </summary>
internal sealed class XdsResolvedMemo
{
    /// <summary>The most (subscription, workload) pairs remembered per resource set.</summary>
    public const int MaxEntriesPerSet = 100_000;

    private readonly ConditionalWeakTable<XdsResourceSet, ConcurrentDictionary<(XdsSubscription Subscription, string Workload), XdsResolved>> _sets = [];

    /// <summary>
    /// What <paramref name="subscription"/> stands for in <paramref name="set"/> for <paramref name="workload"/>;
    /// <paramref name="resolve"/> works it out when nobody has yet. Workload-scoped subscriptions are never shared.
    /// </summary>
    public XdsResolved Get<TState>(XdsResourceSet set, XdsSubscription subscription, string workload, TState state, Func<TState, XdsResourceSet, XdsSubscription, XdsResolved> resolve)
    {
        if (subscription.IsWorkloadScoped)
        {
            return resolve(state, set, subscription);
        }

        var memo = _sets.GetValue(set, static _ => new ConcurrentDictionary<(XdsSubscription, string), XdsResolved>());
        if (memo.TryGetValue((subscription, workload), out var resolved))
        {
            return resolved;
        }

        resolved = resolve(state, set, subscription);
        if (memo.Count < MaxEntriesPerSet)
        {
            resolved = memo.GetOrAdd((subscription, workload), resolved);
        }

        return resolved;
    }
}
