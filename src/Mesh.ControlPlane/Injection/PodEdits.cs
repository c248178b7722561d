using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Injection;

/// <summary>Small edits of a pod's JSON that both templates make.</summary>
internal static class PodEdits
{
    public static JsonObject Object(JsonObject parent, string key)
    {
        if (parent[key] is JsonObject existing)
        {
            return existing;
        }

        var created = new JsonObject();
        parent[key] = created;
        return created;
    }

    public static JsonArray Array(JsonObject parent, string key)
    {
        if (parent[key] is JsonArray existing)
        {
            return existing;
        }

        var created = new JsonArray();
        parent[key] = created;
        return created;
    }

    /// <summary>Sets a label only when the pod does not carry it already.</summary>
    public static void LabelIfAbsent(JsonObject pod, string key, string value)
    {
        var labels = Object(Object(pod, "metadata"), "labels");
        if (!labels.ContainsKey(key))
        {
            labels[key] = value;
        }
    }

    public static void Annotate(JsonObject pod, string key, string value) => Object(Object(pod, "metadata"), "annotations")[key] = value;

    /// <summary>An env var from the downward API.</summary>
    public static JsonObject FieldEnv(string name, string fieldPath) =>
        new() { ["name"] = name, ["valueFrom"] = new JsonObject { ["fieldRef"] = new JsonObject { ["apiVersion"] = "v1", ["fieldPath"] = fieldPath } } };

    public static JsonObject Env(string name, string value) => new() { ["name"] = name, ["value"] = value };

    public static bool HasEnv(JsonObject container, string name) =>
        container["env"] is JsonArray env && env.Any(e => e?["name"]?.GetValue<string>() == name);

    /// <summary>Puts <paramref name="injected"/> in front of the container's own env, so its own values may refer to them as <c>$(NAME)</c>.</summary>
    public static void PrependEnv(JsonObject container, IEnumerable<JsonObject> injected)
    {
        var env = new JsonArray();
        foreach (var item in injected)
        {
            env.Add(item);
        }

        if (container["env"] is JsonArray own)
        {
            foreach (var item in own)
            {
                env.Add(item?.DeepClone());
            }
        }

        container["env"] = env;
    }

    /// <summary>The status annotation in Istio's shape: what was injected, so nothing is injected twice.</summary>
    public static string Status(string template, string revision, string[] initContainers, string[] containers, string[] volumes)
    {
        static JsonNode? Names(string[] names) => names.Length == 0 ? null : new JsonArray([.. names.Select(n => (JsonNode)n)]);
        return new JsonObject
        {
            ["initContainers"] = Names(initContainers),
            ["containers"] = Names(containers),
            ["volumes"] = Names(volumes),
            ["imagePullSecrets"] = null,
            ["revision"] = revision,
            ["template"] = template,
        }.ToJsonString();
    }
}
