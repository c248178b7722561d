using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// Reads Kubernetes-style resources from YAML text: every document of a multi-document file, and the items
/// of a <c>kind: List</c>. Scalars are typed as YAML 1.2's core schema types them (plain <c>80</c> is a
/// number, <c>"80"</c> a string), so the JSON handed on is what <c>kubectl</c> would send to an API server.
/// </summary>
/// <remarks>
/// A file is untrusted input. Before it is loaded, one streaming pass over its events (no recursion) enforces
/// <see cref="MaxDepth"/> and <see cref="MaxNodes"/>, counting every alias as the nodes it stands for, and refuses an
/// alias to a node that contains it; so neither deep nesting, a self-referencing anchor nor "billion laughs" can
/// exhaust the stack or memory. Every problem becomes a <see cref="ConfigError"/> naming the file and line.
/// </remarks>
internal static class YamlResourceReader
{
    /// <summary>The deepest nesting of mappings and sequences accepted: 64 levels.</summary>
    internal const int MaxDepth = 64;

    /// <summary>The most nodes one file may expand to, aliases counted as what they stand for: 1,000,000.</summary>
    internal const int MaxNodes = 1_000_000;

    /// <summary>The most nodes all the aliases of one file may stand for together: 100,000.</summary>
    internal const int MaxAliasNodes = 100_000;

    public static ConfigSet Read(string text, string origin, string defaultNamespace)
    {
        var resources = new List<ConfigResource>();
        var errors = new List<ConfigError>();
        var stream = new YamlStream();
        try
        {
            if (CheckLimits(text) is { } limit)
            {
                errors.Add(new ConfigError($"{origin}:{limit.Line}", null, null, limit.Message));
                return new ConfigSet(resources, errors);
            }

            using var reader = new StringReader(text);
            stream.Load(reader);
        }
        catch (YamlException ex)
        {
            errors.Add(new ConfigError($"{origin}:{ex.Start.Line}", null, null, "malformed YAML: " + (ex.InnerException?.Message ?? ex.Message)));
            return new ConfigSet(resources, errors);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // YamlDotNet reports some malformed input (an unclosed flow sequence followed by a key) this way.
            errors.Add(new ConfigError(origin, null, null, "malformed YAML: " + ex.Message));
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

    /// <summary>
    /// Walks the file's events once, without recursion, and returns the first limit it breaks (with its line), or
    /// null: nesting deeper than <see cref="MaxDepth"/>, more than <see cref="MaxNodes"/> nodes once aliases are
    /// expanded, or an alias inside the node it refers to. Syntax errors surface as <see cref="YamlException"/>.
    /// </summary>
    private static (long Line, string Message)? CheckLimits(string text)
    {
        using var reader = new StringReader(text);
        var parser = new Parser(reader);
        var open = new Stack<(string? Anchor, long NodesBefore)>();
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        long nodes = 0, aliased = 0;
        while (parser.MoveNext())
        {
            var current = parser.Current!;
            switch (current)
            {
                case DocumentStart:
                    sizes.Clear(); // anchors are local to a document.
                    break;
                case AnchorAlias alias:
                    var name = alias.Value.Value;
                    foreach (var (anchor, _) in open)
                    {
                        if (anchor == name)
                        {
                            return (alias.Start.Line, $"the alias *{name} refers to a node that contains it (a recursive alias)");
                        }
                    }

                    if (sizes.TryGetValue(name, out var size))
                    {
                        nodes += size;
                        aliased += size;
                        if (aliased > MaxAliasNodes)
                        {
                            return (alias.Start.Line, $"the aliases of the file stand for more than {MaxAliasNodes:N0} nodes; aliases that multiply content are refused");
                        }
                    }

                    break;
                case Scalar scalar:
                    nodes++;
                    if (!scalar.Anchor.IsEmpty)
                    {
                        sizes[scalar.Anchor.Value] = 1;
                    }

                    break;
                case NodeEvent start when current is MappingStart or SequenceStart:
                    nodes++;
                    open.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, nodes - 1));
                    if (open.Count > MaxDepth)
                    {
                        return (start.Start.Line, $"mappings and sequences are nested more than {MaxDepth} levels deep");
                    }

                    break;
                case MappingEnd or SequenceEnd:
                    if (open.TryPop(out var closed) && closed.Anchor is { } anchored)
                    {
                        sizes[anchored] = nodes - closed.NodesBefore;
                    }

                    break;
            }

            if (nodes > MaxNodes)
            {
                return (current.Start.Line, $"the file expands to more than {MaxNodes:N0} nodes (counting what each alias stands for)");
            }
        }

        return null;
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
