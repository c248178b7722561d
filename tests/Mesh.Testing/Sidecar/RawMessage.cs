using Google.Protobuf;

namespace Mesh.Testing.Sidecar;

/// <summary>One field value as it is on the wire.</summary>
/// <param name="WireType">The wire type.</param>
/// <param name="Number">The varint or fixed value.</param>
/// <param name="Bytes">The length-delimited bytes.</param>
public sealed record RawValue(WireFormat.WireType WireType, ulong Number, ByteString Bytes);

/// <summary>A protobuf message decoded without a schema: field number → values in wire order.</summary>
public sealed class RawMessage
{
    /// <summary>The fields.</summary>
    public Dictionary<int, List<RawValue>> Fields { get; } = [];

    /// <summary>Decodes <paramref name="bytes"/>; <paramref name="error"/> says what was malformed, if anything.</summary>
    public static RawMessage Parse(ByteString bytes, out string? error)
    {
        var message = new RawMessage();
        error = null;
        try
        {
            var input = new CodedInputStream(bytes.ToByteArray());
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                var number = WireFormat.GetTagFieldNumber(tag);
                var wireType = WireFormat.GetTagWireType(tag);
                RawValue value = wireType switch
                {
                    WireFormat.WireType.Varint => new RawValue(wireType, input.ReadUInt64(), ByteString.Empty),
                    WireFormat.WireType.Fixed32 => new RawValue(wireType, input.ReadFixed32(), ByteString.Empty),
                    WireFormat.WireType.Fixed64 => new RawValue(wireType, input.ReadFixed64(), ByteString.Empty),
                    WireFormat.WireType.LengthDelimited => new RawValue(wireType, 0, input.ReadBytes()),
                    _ => null!,
                };
                if (value is null)
                {
                    error = $"unsupported wire type {wireType} for field {number}";
                    return message;
                }

                if (!message.Fields.TryGetValue(number, out var list))
                {
                    list = [];
                    message.Fields.Add(number, list);
                }

                list.Add(value);
            }
        }
        catch (InvalidProtocolBufferException ex)
        {
            error = ex.Message;
        }

        return message;
    }

    /// <summary>Whether field <paramref name="number"/> is present.</summary>
    public bool Has(int number) => Fields.ContainsKey(number);

    /// <summary>The last value of a varint/fixed field, 0 when absent.</summary>
    public ulong Number(int number) => Fields.TryGetValue(number, out var v) ? v[^1].Number : 0;

    /// <summary>The last value of a bool field.</summary>
    public bool Bool(int number) => Number(number) != 0;

    /// <summary>The last value of a length-delimited field, empty when absent.</summary>
    public ByteString Bytes(int number) => Fields.TryGetValue(number, out var v) ? v[^1].Bytes : ByteString.Empty;

    /// <summary>The last value of a string field.</summary>
    public string String(int number) => Bytes(number).ToStringUtf8();
}
