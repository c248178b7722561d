using System.Buffers;
using System.Collections.Concurrent;

namespace Mesh.Client.Routing;

/// <summary>
/// The parts of an absolute http(s) URI as its text spells them (<see cref="Uri.OriginalString"/>), read without
/// allocating — for caches keyed by that text, whose values are computed from the parsed <see cref="Uri"/> once.
/// </summary>
internal static class RequestUriText
{
    /// <summary>
    /// Splits <c>scheme://authority/path?query#fragment</c> into the authority and what follows it; false when the URI is
    /// not http or https, or its authority carries user information or a backslash.
    /// </summary>
    public static bool TrySplit(Uri uri, out bool https, out ReadOnlySpan<char> authority, out ReadOnlySpan<char> pathAndQuery)
    {
        authority = default;
        pathAndQuery = default;
        https = string.Equals(uri.Scheme, Uri.UriSchemeHttps, StringComparison.Ordinal);
        if (!https && !string.Equals(uri.Scheme, Uri.UriSchemeHttp, StringComparison.Ordinal))
        {
            return false;
        }

        var text = uri.OriginalString.AsSpan();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            return false;
        }

        // The authority ends where Uri ends it: '/', '?' or '#' (a backslash, which Uri also ends it at, is refused).
        var rest = text[(scheme + 3)..];
        var end = rest.IndexOfAny('/', '?', '#');
        authority = end < 0 ? rest : rest[..end];
        pathAndQuery = end < 0 ? [] : rest[end..];
        return !authority.IsEmpty && !authority.ContainsAny('@', '\\');
    }

    // Characters a URI path keeps as they are (RFC 3986 pchar and '/', without '%'): a path of only these, without dot
    // segments, is its own canonical form.
    private static readonly SearchValues<char> PlainPathChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/");

    private static readonly ConcurrentDictionary<string, string> PlainPaths = new(StringComparer.Ordinal);

    private const int MaxPlainPaths = 1024;

    /// <summary>
    /// <paramref name="uri"/>'s <see cref="Uri.AbsolutePath"/>. A path spelled in its canonical form already (the usual
    /// one) is taken from the text, and the string kept (bounded) for the next request to it, so the URI is not parsed
    /// for it; any other path is the URI's own.
    /// </summary>
    public static string AbsolutePath(Uri uri)
    {
        if (!TrySplit(uri, out _, out _, out var rest))
        {
            return uri.AbsolutePath;
        }

        var end = rest.IndexOfAny('?', '#');
        var path = end < 0 ? rest : rest[..end];
        if (path.IsEmpty || path[0] != '/' || path.ContainsAnyExcept(PlainPathChars) || HasDotSegment(path))
        {
            return uri.AbsolutePath;
        }

        var known = PlainPaths.GetAlternateLookup<ReadOnlySpan<char>>();
        if (known.TryGetValue(path, out var text))
        {
            return text;
        }

        text = path.ToString();
        if (PlainPaths.Count < MaxPlainPaths)
        {
            PlainPaths.TryAdd(text, text);
        }

        return text;
    }

    private static bool HasDotSegment(ReadOnlySpan<char> path)
    {
        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            if (segment is "." or "..")
            {
                return true;
            }
        }

        return false;
    }
}
