using System.Globalization;
using System.Text.RegularExpressions;

namespace Mesh.Client.Routing;

/// <summary>How a route's path condition compares.</summary>
internal enum PathMatchKind
{
    Prefix,
    Exact,
    Regex,
}

/// <summary>How a header condition compares.</summary>
internal enum HeaderMatchKind
{
    Exact,
    Prefix,
    Suffix,
    Contains,
    Regex,
    Present,
    Range,
}

/// <summary>One header condition of a route, compiled (gRFC A28 semantics).</summary>
internal sealed class HeaderCondition
{
    public required string Name { get; init; }
    public required HeaderMatchKind Kind { get; init; }
    public string Value { get; init; } = string.Empty;
    public Regex? Regex { get; init; }
    public long RangeStart { get; init; }
    public long RangeEnd { get; init; }
    public bool PresentValue { get; init; } = true;
    public bool Invert { get; init; }
    public bool IgnoreCase { get; init; }

    public bool Matches(string? value)
    {
        bool result;
        if (Kind == HeaderMatchKind.Present)
        {
            result = (value is not null) == PresentValue;
        }
        else if (value is null)
        {
            return false; // A28: a missing header never matches, even inverted.
        }
        else
        {
            var comparison = IgnoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            result = Kind switch
            {
                HeaderMatchKind.Exact => string.Equals(value, Value, comparison),
                HeaderMatchKind.Prefix => value.StartsWith(Value, comparison),
                HeaderMatchKind.Suffix => value.EndsWith(Value, comparison),
                HeaderMatchKind.Contains => value.Contains(Value, comparison),
                HeaderMatchKind.Regex => Regex!.IsMatch(value),
                HeaderMatchKind.Range => long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= RangeStart && n < RangeEnd,
                _ => false,
            };
        }

        return result != Invert;
    }
}

/// <summary>
/// A route's match, compiled once when the route configuration arrives: a path condition, header conditions and an
/// optional runtime fraction. <see cref="Matches"/> allocates nothing.
/// </summary>
internal sealed class RouteMatcher
{
    /// <summary>A matcher that matches every call.</summary>
    public static RouteMatcher All { get; } = new() { PathKind = PathMatchKind.Prefix, Path = string.Empty };

    public required PathMatchKind PathKind { get; init; }
    public required string Path { get; init; }
    public Regex? PathRegex { get; init; }
    public bool CaseSensitive { get; init; } = true;
    public HeaderCondition[] Headers { get; init; } = [];

    /// <summary>The share of matching calls that take this route, in parts per million; null means all.</summary>
    public uint? FractionPerMillion { get; init; }

    public bool Matches<THeaders>(string path, THeaders headers)
        where THeaders : IRequestHeaders
    {
        var pathMatches = PathKind switch
        {
            PathMatchKind.Prefix => path.StartsWith(Path, CaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase),
            PathMatchKind.Exact => string.Equals(path, Path, CaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase),
            _ => PathRegex!.IsMatch(path),
        };
        if (!pathMatches)
        {
            return false;
        }

        foreach (var header in Headers)
        {
            if (!header.Matches(headers.Get(header.Name)))
            {
                return false;
            }
        }

        return FractionPerMillion is not { } fraction || (uint)Random.Shared.Next(1_000_000) < fraction;
    }
}

/// <summary>Request headers as routing sees them: one string per name, several values joined with ",".</summary>
internal interface IRequestHeaders
{
    /// <summary>The value of <paramref name="name"/> (lower-case), or null when absent.</summary>
    string? Get(string name);

    /// <summary>The request's path and query, for hash policies on a query parameter; null when unknown.</summary>
    string? PathAndQuery => null;
}

/// <summary>The headers of an <see cref="HttpRequestMessage"/> (gRPC metadata travels as HTTP/2 headers).</summary>
internal readonly struct HttpRequestHeaders(HttpRequestMessage request) : IRequestHeaders
{
    public string? PathAndQuery => request.RequestUri?.IsAbsoluteUri == true ? request.RequestUri.PathAndQuery : request.RequestUri?.OriginalString;

    public string? Get(string name)
    {
        // A28: binary headers never match; content-type is gRPC's own.
        if (name.EndsWith("-bin", StringComparison.Ordinal))
        {
            return null;
        }

        if (name == "content-type")
        {
            return request.Content?.Headers.ContentType?.ToString() ?? "application/grpc";
        }

        if (name == ":method")
        {
            return request.Method.Method;
        }

        if (name == ":authority")
        {
            return request.RequestUri?.Authority;
        }

        if (request.Headers.NonValidated.TryGetValues(name, out var values))
        {
            return values.Count == 1 ? values.ToString() : string.Join(',', values);
        }

        return null;
    }
}
