using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>
/// JSON merge patch (RFC 7386). The fake applies strategic merge patches the same way, which differs from Kubernetes
/// only for lists with merge keys (Kubernetes merges them by key; here the patch's list replaces the old one).
/// </summary>
internal static class FakeMergePatch
{
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : [];
        foreach (var (key, value) in patchObject)
        {
            if (key.StartsWith('$'))
            {
                continue; // strategic merge directives ($patch, $retainKeys, ...)
            }

            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = Apply(result[key], value);
            }
        }

        return result;
    }
}
