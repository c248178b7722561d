using System.Collections.Immutable;
using System.Net.Http.Headers;

namespace Mesh.Client.Routing.RouteActions;

/// <summary>
/// Header changes of a route or a weighted cluster (Envoy's <c>*_headers_to_add</c> and <c>*_headers_to_remove</c>, which
/// Istio's VirtualService <c>headers</c> set/add/remove become): removals first, then each header set or appended.
/// </summary>
/// <param name="Set">Headers written with their value, each in order.</param>
/// <param name="Remove">Header names removed.</param>
internal sealed record HeaderChanges(ImmutableArray<HeaderChange> Set, ImmutableArray<string> Remove)
{
    /// <summary>No change.</summary>
    public static HeaderChanges None { get; } = new([], []);

    /// <summary>Whether there is nothing to do.</summary>
    public bool IsEmpty => Set.IsEmpty && Remove.IsEmpty;

    /// <summary>Applies the changes to a message's headers, and its content's for content headers.</summary>
    public void Apply(HttpHeaders headers, HttpContentHeaders? content)
    {
        foreach (var name in Remove)
        {
            headers.Remove(name);
            content?.Remove(name);
        }

        foreach (var change in Set)
        {
            var target = IsContentHeader(change.Name) ? content : headers;
            if (target is null)
            {
                continue;
            }

            var present = target.Contains(change.Name);
            switch (change.Mode)
            {
                case HeaderChangeMode.AddIfAbsent when present:
                case HeaderChangeMode.OverwriteIfExists when !present:
                    continue;
                case HeaderChangeMode.Overwrite:
                case HeaderChangeMode.OverwriteIfExists:
                    target.Remove(change.Name);
                    break;
            }

            target.TryAddWithoutValidation(change.Name, change.Value);
        }
    }

    private static bool IsContentHeader(string name) =>
        name.StartsWith("content-", StringComparison.OrdinalIgnoreCase) || name.Equals("expires", StringComparison.OrdinalIgnoreCase)
        || name.Equals("last-modified", StringComparison.OrdinalIgnoreCase) || name.Equals("allow", StringComparison.OrdinalIgnoreCase);
}

/// <summary>One header written by a route.</summary>
/// <param name="Name">The header name.</param>
/// <param name="Value">The value.</param>
/// <param name="Mode">How it combines with a header already present.</param>
internal sealed record HeaderChange(string Name, string Value, HeaderChangeMode Mode);

/// <summary>How a written header combines with one already present (Envoy's <c>HeaderAppendAction</c>).</summary>
internal enum HeaderChangeMode
{
    /// <summary>Append a value (Istio <c>add</c>).</summary>
    Append,

    /// <summary>Add only when absent.</summary>
    AddIfAbsent,

    /// <summary>Replace the values, or add (Istio <c>set</c>).</summary>
    Overwrite,

    /// <summary>Replace the values only when present.</summary>
    OverwriteIfExists,
}
