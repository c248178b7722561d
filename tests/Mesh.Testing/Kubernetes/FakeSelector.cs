using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>
/// The equality subset of Kubernetes label and field selectors (<c>a=b,c!=d</c>; field selectors on
/// <c>metadata.name</c> and <c>metadata.namespace</c>), which is what controllers and kubectl send.
/// </summary>
internal sealed class FakeSelector
{
    private readonly List<(string Key, string Value, bool Equal)> _labels = [];
    private readonly List<(string Key, string Value, bool Equal)> _fields = [];

    public static FakeSelector Everything { get; } = new();

    public static FakeSelector Parse(string? labelSelector, string? fieldSelector)
    {
        var selector = new FakeSelector();
        Add(labelSelector, selector._labels);
        Add(fieldSelector, selector._fields);
        return selector;
    }

    private static void Add(string? text, List<(string, string, bool)> into)
    {
        foreach (var term in (text ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var notEqual = term.IndexOf("!=", StringComparison.Ordinal);
            if (notEqual > 0)
            {
                into.Add((term[..notEqual], term[(notEqual + 2)..], false));
                continue;
            }

            var equal = term.IndexOf('=', StringComparison.Ordinal);
            if (equal > 0)
            {
                into.Add((term[..equal], term[(equal + 1)..].TrimStart('='), true));
            }
            else
            {
                // A bare key: the label must exist.
                into.Add((term, "\0exists", true));
            }
        }
    }

    public bool Matches(JsonObject item)
    {
        var labels = item["metadata"]?["labels"] as JsonObject;
        foreach (var (key, value, equal) in _labels)
        {
            var actual = labels?[key]?.GetValue<string>();
            var matches = value == "\0exists" ? actual is not null : actual == value;
            if (matches != equal)
            {
                return false;
            }
        }

        foreach (var (key, value, equal) in _fields)
        {
            var actual = key switch
            {
                "metadata.name" => item["metadata"]?["name"]?.GetValue<string>(),
                "metadata.namespace" => item["metadata"]?["namespace"]?.GetValue<string>(),
                _ => null,
            };
            if ((actual == value) != equal)
            {
                return false;
            }
        }

        return true;
    }
}
