using System.Text.RegularExpressions;

namespace Mesh.Client.Routing.RouteActions;

/// <summary>
/// A route's rewrite of the forwarded request (VirtualService <c>rewrite</c>): the matched path prefix replaced
/// (<c>prefix_rewrite</c>), or every match of a pattern in the path substituted (<c>regex_rewrite</c>, RE2's
/// <c>\1</c> groups), and the authority replaced (<c>host_rewrite_literal</c>). The query string is kept.
/// </summary>
internal sealed record PathRewrite(string? Prefix, Regex? Pattern, string? Substitution, string? Authority)
{
    /// <summary>The rewritten path for a request whose path is <paramref name="path"/> on a route matching <paramref name="match"/>.</summary>
    public string Apply(string path, RouteMatcher match)
    {
        if (Pattern is not null)
        {
            return Pattern.Replace(path, Substitution!);
        }

        if (Prefix is null)
        {
            return path;
        }

        // prefix_rewrite: the route's prefix (the whole path for an exact match) is replaced.
        var matched = match.PathKind switch
        {
            PathMatchKind.Prefix => match.Path.Length,
            PathMatchKind.Exact => path.Length,
            _ => 0,
        };
        return Prefix + path[Math.Min(matched, path.Length)..];
    }

    /// <summary>RE2's substitution (<c>\1</c> for a group, <c>\\</c> for a backslash) in .NET's form (<c>${1}</c>, <c>$$</c> for a dollar).</summary>
    public static string ToDotNetSubstitution(string re2)
    {
        var result = new System.Text.StringBuilder(re2.Length + 8);
        for (var i = 0; i < re2.Length; i++)
        {
            var c = re2[i];
            if (c == '\\' && i + 1 < re2.Length && char.IsAsciiDigit(re2[i + 1]))
            {
                result.Append("${").Append(re2[i + 1]).Append('}');
                i++;
            }
            else if (c == '\\' && i + 1 < re2.Length && re2[i + 1] == '\\')
            {
                result.Append('\\');
                i++;
            }
            else if (c == '$')
            {
                result.Append("$$");
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }
}
