using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// The RFC 6902 JSON Patch that turns one JSON document into another: objects are compared member by member (<c>add</c>,
/// <c>remove</c>, <c>replace</c>), arrays and values that differ are replaced whole. The patch is what an admission
/// webhook returns; the API server applies it to the object it sent.
/// </summary>
internal static class JsonPatchBuilder
{
    /// <summary>The operations that turn <paramref name="original"/> into <paramref name="modified"/>.</summary>
    public static JsonArray Diff(JsonObject original, JsonObject modified)
    {
        var operations = new JsonArray();
        DiffObject(original, modified, string.Empty, operations);
        return operations;
    }

    private static void DiffObject(JsonObject original, JsonObject modified, string path, JsonArray operations)
    {
        foreach (var (key, _) in original)
        {
            if (!modified.ContainsKey(key))
            {
                operations.Add(new JsonObject { ["op"] = "remove", ["path"] = path + "/" + Escape(key) });
            }
        }

        foreach (var (key, value) in modified)
        {
            var child = path + "/" + Escape(key);
            if (!original.TryGetPropertyValue(key, out var before))
            {
                operations.Add(new JsonObject { ["op"] = "add", ["path"] = child, ["value"] = value?.DeepClone() });
            }
            else if (before is JsonObject beforeObject && value is JsonObject afterObject)
            {
                DiffObject(beforeObject, afterObject, child, operations);
            }
            else if (!JsonNode.DeepEquals(before, value))
            {
                operations.Add(new JsonObject { ["op"] = "replace", ["path"] = child, ["value"] = value?.DeepClone() });
            }
        }
    }

    /// <summary>A JSON Pointer reference token (RFC 6901): <c>~</c> as <c>~0</c>, <c>/</c> as <c>~1</c>.</summary>
    internal static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
