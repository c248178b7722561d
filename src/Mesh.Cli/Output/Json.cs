using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mesh.Cli.Output;

/// <summary>
/// Lenient reads of JSON from the control plane and workloads: a missing field, or one of another type, is null,
/// never an exception — the debug endpoints grow fields, and an older control plane may lack some.
/// </summary>
internal static class Json
{
    /// <summary>The node at <paramref name="path"/> (object keys), or null.</summary>
    public static JsonNode? At(JsonNode? node, params string[] path)
    {
        foreach (var key in path)
        {
            node = node is JsonObject o && o.TryGetPropertyValue(key, out var next) ? next : null;
            if (node is null)
            {
                return null;
            }
        }

        return node;
    }

    /// <summary>The string (or number/boolean, as text) at <paramref name="path"/>, or null.</summary>
    public static string? Str(JsonNode? node, params string[] path) => At(node, path) is JsonValue v
        ? v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.ToJsonString(),
            _ => null,
        }
        : null;

    /// <summary>The integer at <paramref name="path"/>, or null (a JSON string holding a number counts: proto3 JSON writes 64-bit numbers so).</summary>
    public static long? Int(JsonNode? node, params string[] path) =>
        long.TryParse(Str(node, path), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>The array at <paramref name="path"/>, or an empty one.</summary>
    public static IEnumerable<JsonNode?> Items(JsonNode? node, params string[] path) =>
        At(node, path) is JsonArray a ? a : [];

    /// <summary>The object properties at <paramref name="path"/>, or none.</summary>
    public static IEnumerable<KeyValuePair<string, JsonNode?>> Properties(JsonNode? node, params string[] path) =>
        At(node, path) is JsonObject o ? o : [];
}
