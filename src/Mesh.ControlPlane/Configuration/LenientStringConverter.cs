using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// Reads a string field that YAML typed as a number or boolean (a label <c>version: 1</c>, a header match
/// <c>exact: 42</c>) as the text the user wrote, the way Kubernetes' YAML handling does for string fields.
/// </summary>
internal sealed class LenientStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        _ => throw new JsonException("expected a string"),
    };

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
