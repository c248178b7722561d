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
    /// <summary>The name under which the header reader gives the request's path and query (for query parameter policies).</summary>
    public const string PathAndQuery = ":path";

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
                case HashPolicyKind.Cookie:
                    if (Cookie(header(state, "cookie"), policy.HeaderName) is not { } cookie)
                    {
                        continue;
                    }

                    next = Xxh64.Hash(cookie);
                    break;
                case HashPolicyKind.QueryParameter:
                    if (QueryParameter(header(state, PathAndQuery), policy.HeaderName) is not { } parameter)
                    {
                        continue;
                    }

                    next = Xxh64.Hash(parameter);
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

    /// <summary>The value of cookie <paramref name="name"/> in a Cookie header (<c>a=1; b=2</c>), or null.</summary>
    internal static string? Cookie(string? header, string name)
    {
        if (header is null)
        {
            return null;
        }

        foreach (var range in header.AsSpan().Split(';'))
        {
            var pair = header.AsSpan()[range].Trim();
            var equals = pair.IndexOf('=');
            if (equals > 0 && pair[..equals].SequenceEqual(name))
            {
                return pair[(equals + 1)..].ToString();
            }
        }

        return null;
    }

    /// <summary>The first value of query parameter <paramref name="name"/> in a path and query (not unescaped, as Envoy hashes it), or null.</summary>
    internal static string? QueryParameter(string? pathAndQuery, string name)
    {
        var mark = pathAndQuery?.IndexOf('?', StringComparison.Ordinal) ?? -1;
        if (mark < 0)
        {
            return null;
        }

        var query = pathAndQuery.AsSpan(mark + 1);
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            var equals = pair.IndexOf('=');
            var key = equals < 0 ? pair : pair[..equals];
            if (key.SequenceEqual(name))
            {
                return equals < 0 ? string.Empty : pair[(equals + 1)..].ToString();
            }
        }

        return null;
    }
}
