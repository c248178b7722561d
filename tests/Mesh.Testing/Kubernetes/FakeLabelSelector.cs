using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>A Kubernetes <c>LabelSelector</c> object (<c>matchLabels</c>, <c>matchExpressions</c> with In, NotIn, Exists, DoesNotExist).</summary>
public static class FakeLabelSelector
{
    /// <summary>Whether <paramref name="labels"/> match <paramref name="selector"/>; a missing or empty selector matches everything.</summary>
    public static bool Matches(JsonObject? selector, IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (selector is null)
        {
            return true;
        }

        if (selector["matchLabels"] is JsonObject matchLabels)
        {
            foreach (var (key, value) in matchLabels)
            {
                if (!labels.TryGetValue(key, out var own) || own != value?.GetValue<string>())
                {
                    return false;
                }
            }
        }

        if (selector["matchExpressions"] is JsonArray expressions)
        {
            foreach (var expression in expressions.OfType<JsonObject>())
            {
                var key = expression["key"]!.GetValue<string>();
                var values = expression["values"] is JsonArray list ? list.Select(v => v!.GetValue<string>()).ToHashSet(StringComparer.Ordinal) : [];
                var has = labels.TryGetValue(key, out var value);
                var ok = expression["operator"]!.GetValue<string>() switch
                {
                    "In" => has && values.Contains(value!),
                    "NotIn" => !has || !values.Contains(value!),
                    "Exists" => has,
                    "DoesNotExist" => !has,
                    var other => throw new FakeApiException(400, "BadRequest", $"unknown label selector operator '{other}'"),
                };
                if (!ok)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The labels of an object's metadata.</summary>
    public static Dictionary<string, string> LabelsOf(JsonObject? item)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (item?["metadata"]?["labels"] is JsonObject map)
        {
            foreach (var (key, value) in map)
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var text))
                {
                    labels[key] = text;
                }
            }
        }

        return labels;
    }
}
