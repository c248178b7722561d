using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// Reads Kubernetes-style resources from YAML text: every document of a multi-document file, and the items
/// of a <c>kind: List</c>. Scalars are typed as YAML 1.2's core schema types them (plain <c>80</c> is a
/// number, <c>"80"</c> a string), so the JSON handed on is what <c>kubectl</c> would send to an API server.
/// </summary>
internal static class YamlResourceReader
{
    public static ConfigSet Read(string text, string origin, string defaultNamespace)
    {
        var resources = new List<ConfigResource>();
        var errors = new List<ConfigError>();
        var stream = new YamlStream();
        try
        {
            using var reader = new StringReader(text);
            stream.Load(reader);
        }
        catch (YamlException ex)
        {
            errors.Add(new ConfigError($"{origin}:{ex.Start.Line}", null, null, "malformed YAML: " + (ex.InnerException?.Message ?? ex.Message)));
            return new ConfigSet(resources, errors);
        }

        foreach (var document in stream.Documents)
        {
            var root = document.RootNode;
            var where = $"{origin}:{root.Start.Line}";
            if (root is YamlScalarNode { Value: null or "" or "~" or "null" })
            {
                continue; // an empty document, as between two '---'.
            }

            if (ToJson(root) is not JsonObject body)
            {
                errors.Add(new ConfigError(where, null, null, "a resource must be a mapping with apiVersion, kind and metadata"));
                continue;
            }

            AddResource(body, where, defaultNamespace, resources, errors);
        }

        return new ConfigSet(resources, errors);
    }

    internal static void AddResource(JsonObject body, string where, string defaultNamespace, List<ConfigResource> resources, List<ConfigError> errors)
    {
        var kind = GetString(body, "kind");
        var apiVersion = GetString(body, "apiVersion");
        if (kind == "List" && body["items"] is JsonArray items)
        {
            for (var i = 0; i < items.Count; i++)
            {
                if (items[i] is JsonObject item)
                {
                    AddResource((JsonObject)item.DeepClone(), $"{where} items[{i}]", defaultNamespace, resources, errors);
                }
            }

            return;
        }

        var metadata = body["metadata"] as JsonObject;
        var name = metadata is null ? null : GetString(metadata, "name");
        var ns = (metadata is null ? null : GetString(metadata, "namespace")) ?? defaultNamespace;
        var display = $"{kind ?? "?"} {ns}/{name ?? "?"}";
        var missing = false;
        if (string.IsNullOrEmpty(apiVersion))
        {
            errors.Add(new ConfigError(where, display, "apiVersion", "is required"));
            missing = true;
        }

        if (string.IsNullOrEmpty(kind))
        {
            errors.Add(new ConfigError(where, display, "kind", "is required"));
            missing = true;
        }

        if (string.IsNullOrEmpty(name))
        {
            errors.Add(new ConfigError(where, display, "metadata.name", "is required"));
            missing = true;
        }

        if (!missing)
        {
            resources.Add(new ConfigResource(apiVersion!, kind!, ns, name!, where, body));
        }
    }

    private static string? GetString(JsonObject obj, string property) =>
        obj[property] is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    internal static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => ToJsonObject(mapping),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(ToJson)]),
        YamlScalarNode scalar => ToJsonValue(scalar),
        _ => null,
    };

    private static JsonObject ToJsonObject(YamlMappingNode mapping)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in mapping.Children)
        {
            var name = key is YamlScalarNode s ? s.Value ?? string.Empty : key.ToString();
            obj[name] = ToJson(value);
        }

        return obj;
    }

    private static JsonValue? ToJsonValue(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(text);
        }

        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (text.Length > 0 && (char.IsDigit(text[0]) || text[0] is '-' or '+' or '.')
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real)
            && double.IsFinite(real))
        {
            return JsonValue.Create(real);
        }

        return JsonValue.Create(text);
    }
}
