using System.Buffers.Binary;
using System.Text;

namespace Mesh.Xds.Tests.Wire;

/// <summary>
/// A minimal protobuf encoder, independent of Google.Protobuf and of our generated classes: the tests build bytes
/// from Envoy's published field numbers with it, then check that our generated parsers read them back.
/// </summary>
internal sealed class WireWriter
{
    private const int VarintType = 0;
    private const int Fixed64Type = 1;
    private const int LengthDelimitedType = 2;

    private readonly List<byte> _bytes = [];

    public static byte[] Build(Action<WireWriter> build)
    {
        var writer = new WireWriter();
        build(writer);
        return [.. writer._bytes];
    }

    /// <summary>A varint field (int32/int64/uint32/uint64/enum).</summary>
    public WireWriter Varint(int field, ulong value)
    {
        Tag(field, VarintType);
        RawVarint(value);
        return this;
    }

    public WireWriter Bool(int field, bool value) => Varint(field, value ? 1UL : 0UL);

    public WireWriter Double(int field, double value)
    {
        Tag(field, Fixed64Type);
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(buffer, value);
        _bytes.AddRange(buffer);
        return this;
    }

    public WireWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public WireWriter Bytes(int field, byte[] value)
    {
        Tag(field, LengthDelimitedType);
        RawVarint((ulong)value.Length);
        _bytes.AddRange(value);
        return this;
    }

    /// <summary>An embedded message; an empty <paramref name="build"/> writes a present-but-empty message.</summary>
    public WireWriter Message(int field, Action<WireWriter> build) => Bytes(field, Build(build));

    /// <summary>A packed repeated varint field (proto3's default encoding for repeated scalars).</summary>
    public WireWriter PackedVarints(int field, params ulong[] values)
    {
        var payload = new WireWriter();
        foreach (var value in values)
        {
            payload.RawVarint(value);
        }

        return Bytes(field, [.. payload._bytes]);
    }

    /// <summary>One entry of a map with message values: a message with key = 1 and value = 2.</summary>
    public WireWriter MapEntry(int field, string key, Action<WireWriter> value) =>
        Message(field, e => e.String(1, key).Message(2, value));

    /// <summary>One entry of a map&lt;string, string&gt;: a message with key = 1 and value = 2.</summary>
    public WireWriter MapEntry(int field, string key, string value) =>
        Message(field, e => e.String(1, key).String(2, value));

    /// <summary>google.protobuf.Any: type_url = 1, value = 2 (omitted when empty, as proto3 does).</summary>
    public WireWriter Any(int field, string typeUrl, byte[] value) =>
        Message(field, a =>
        {
            a.String(1, typeUrl);
            if (value.Length > 0)
            {
                a.Bytes(2, value);
            }
        });

    /// <summary>google.protobuf.Duration: seconds = 1, nanos = 2.</summary>
    public WireWriter Duration(int field, long seconds, int nanos = 0) =>
        Message(field, d =>
        {
            if (seconds != 0)
            {
                d.Varint(1, (ulong)seconds);
            }

            if (nanos != 0)
            {
                d.Varint(2, (ulong)nanos);
            }
        });

    /// <summary>google.protobuf.UInt32Value / UInt64Value: value = 1 (omitted when 0, as proto3 does).</summary>
    public WireWriter UInt(int field, ulong value) => Message(field, w =>
    {
        if (value != 0)
        {
            w.Varint(1, value);
        }
    });

    /// <summary>google.protobuf.BoolValue: value = 1 (omitted when false, as proto3 does).</summary>
    public WireWriter BoolValue(int field, bool value) => Message(field, w =>
    {
        if (value)
        {
            w.Bool(1, value);
        }
    });

    private void Tag(int field, int wireType) => RawVarint(((ulong)field << 3) | (uint)wireType);

    private void RawVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        _bytes.Add((byte)value);
    }
}
