using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>An equality-based label selector (<c>key=value,key!=value,key</c>), as Istio's discovery selectors are usually written.</summary>
internal sealed class FilterSelector
{
    private readonly List<(string Key, string? Value, bool Equal)> _terms = [];

    public static FilterSelector Parse(string text)
    {
        var selector = new FilterSelector();
        foreach (var term in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var notEqual = term.IndexOf("!=", StringComparison.Ordinal);
            var equal = term.IndexOf('=', StringComparison.Ordinal);
            if (notEqual > 0)
            {
                selector._terms.Add((term[..notEqual], term[(notEqual + 2)..], false));
            }
            else if (equal > 0)
            {
                selector._terms.Add((term[..equal], term[(equal + 1)..].TrimStart('='), true));
            }
            else
            {
                selector._terms.Add((term, null, true));
            }
        }

        return selector;
    }

    public bool Matches(JsonObject? labels)
    {
        foreach (var (key, value, equal) in _terms)
        {
            var actual = labels?[key]?.GetValue<string>();
            var matches = value is null ? actual is not null : actual == value;
            if (matches != equal)
            {
                return false;
            }
        }

        return true;
    }
}
