using System.Collections.Immutable;
using Mesh.Client.Resources;

namespace Mesh.Client.LoadBalancing.RingHash;

/// <summary>
/// A request's hash from a route's hash policies (gRFC A42): policies in order; a header policy hashes the header's
/// values joined with commas (headers ending in <c>-bin</c> are skipped), a channel-id policy contributes the
/// channel's id as is; each new hash is combined as <c>rotl(hash, 1) ^ new</c>; a terminal policy that produced a
/// hash ends the walk. No hash at all means a random one.
/// </summary>
internal static class RequestHash
{
    /// <summary>Computes the hash, or null when no policy produced one (the caller then picks a random hash).</summary>
    /// <typeparam name="TState">What <paramref name="header"/> reads from (the call's headers), to avoid a closure.</typeparam>
    /// <param name="policies">The route's hash policies.</param>
    /// <param name="state">Passed to <paramref name="header"/>.</param>
    /// <param name="header">Returns a header's values joined with commas, or null when absent.</param>
    /// <param name="channelId">The channel's random id.</param>
    /// <returns>The hash, or null.</returns>
    public static ulong? Compute<TState>(ImmutableArray<HashPolicyResource> policies, TState state, Func<TState, string, string?> header, ulong channelId)
    {
        ArgumentNullException.ThrowIfNull(header);
        ulong hash = 0;
        var produced = false;
        foreach (var policy in policies)
        {
            ulong next;
            switch (policy.Kind)
            {
                case HashPolicyKind.Header:
                    if (policy.HeaderName.EndsWith("-bin", StringComparison.Ordinal) || header(state, policy.HeaderName) is not { } value)
                    {
                        continue;
                    }

                    next = Xxh64.Hash(value);
                    break;
                case HashPolicyKind.ChannelId:
                    next = channelId;
                    break;
                default:
                    continue;
            }

            hash = produced ? ((hash << 1) | (hash >> 63)) ^ next : next;
            produced = true;
            if (policy.Terminal)
            {
                break;
            }
        }

        return produced ? hash : null;
    }
}
