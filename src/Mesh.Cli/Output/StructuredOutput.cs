using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Serialization;

namespace Mesh.Cli.Output;

/// <summary>Writes a result as indented JSON or as YAML (the same tree, the same field names).</summary>
internal static class StructuredOutput
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly ISerializer Yaml = new SerializerBuilder()
        .WithQuotingNecessaryStrings()
        .DisableAliases()
        .Build();

    /// <summary>Writes <paramref name="node"/> in <paramref name="format"/> (json or yaml).</summary>
    public static void Write(TextWriter writer, JsonNode? node, OutputFormat format)
    {
        if (format == OutputFormat.Yaml)
        {
            writer.Write(ToYaml(node));
            return;
        }

        writer.WriteLine(node is null ? "null" : node.ToJsonString(Indented));
    }

    /// <summary>The YAML text of <paramref name="node"/>.</summary>
    public static string ToYaml(JsonNode? node) => Yaml.Serialize(ToPlain(node));

    /// <summary>A JSON tree as dictionaries, lists and scalars, which the YAML serializer writes naturally.</summary>
    public static object? ToPlain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => ToPlain(p.Value), StringComparer.Ordinal),
        JsonArray a => a.Select(ToPlain).ToList(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => v.TryGetValue<long>(out var l) ? l : v.TryGetValue<double>(out var d) ? d : decimal.Parse(v.ToJsonString(), CultureInfo.InvariantCulture),
            _ => null,
        },
        _ => null,
    };
}
