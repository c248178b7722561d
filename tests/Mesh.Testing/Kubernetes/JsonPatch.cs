using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.JsonPatch.SystemTextJson;

namespace Mesh.Testing.Kubernetes;

/// <summary>Applies an RFC 6902 JSON Patch with a JSON Patch library (Microsoft.AspNetCore.JsonPatch.SystemTextJson), as the API server applies a webhook's patch.</summary>
public static class JsonPatch
{
    /// <summary>Applies <paramref name="patchJson"/> to a copy of <paramref name="document"/> and returns the copy; throws when an operation does not apply.</summary>
    public static JsonObject Apply(JsonObject document, string patchJson)
    {
        ArgumentNullException.ThrowIfNull(document);
        var patch = JsonSerializer.Deserialize<JsonPatchDocument>(patchJson)
            ?? throw new InvalidOperationException("the patch is null");
        var copy = (JsonObject)document.DeepClone();
        patch.ApplyTo(copy);
        return copy;
    }
}
