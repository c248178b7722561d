using System.Buffers;
using System.Text;

namespace Mesh.Testing.Sidecar;

/// <summary>
/// What Envoy's <c>tls_inspector</c> listener filter reads from the first bytes of a connection: whether it is TLS, and
/// the ClientHello's server name (SNI) and ALPN list. Parses only the first TLS record, which holds the whole ClientHello
/// of every client the tests use.
/// </summary>
public sealed record TlsClientHello(string? ServerName, IReadOnlyList<string> ApplicationProtocols)
{
    /// <summary>
    /// Reads a ClientHello from the start of <paramref name="data"/>: the hello when the first record is complete, null with
    /// <paramref name="needMore"/> set when more bytes are needed, null without it when the bytes are not a TLS handshake.
    /// </summary>
    public static TlsClientHello? TryParse(ReadOnlySequence<byte> data, out bool needMore)
    {
        needMore = false;
        if (data.Length < 5)
        {
            needMore = true;
            return null;
        }

        Span<byte> header = stackalloc byte[5];
        data.Slice(0, 5).CopyTo(header);
        if (header[0] != 0x16 || header[1] != 3)
        {
            return null; // not a TLS handshake record: plaintext, as Envoy's raw_buffer
        }

        var length = (header[3] << 8) | header[4];
        if (data.Length < 5 + length)
        {
            needMore = true;
            return null;
        }

        var record = data.Slice(5, length).ToArray();
        return Parse(record);
    }

    private static TlsClientHello? Parse(byte[] body)
    {
        var reader = new Reader(body);
        if (reader.Byte() != 1)
        {
            return null; // not a ClientHello
        }

        reader.Skip(3); // handshake length
        reader.Skip(2 + 32); // legacy version, random
        reader.Skip(reader.Byte()); // session id
        reader.Skip(reader.UInt16()); // cipher suites
        reader.Skip(reader.Byte()); // compression methods
        string? serverName = null;
        var protocols = new List<string>();
        if (reader.Remaining < 2)
        {
            return new TlsClientHello(null, protocols);
        }

        var end = reader.Position + reader.UInt16();
        while (reader.Position + 4 <= end)
        {
            var type = reader.UInt16();
            var length = reader.UInt16();
            var next = reader.Position + length;
            switch (type)
            {
                case 0: // server_name: list length, then (type, length, name)*
                    reader.Skip(2);
                    if (reader.Byte() == 0)
                    {
                        serverName = Encoding.ASCII.GetString(reader.Bytes(reader.UInt16()));
                    }

                    break;
                case 16: // application_layer_protocol_negotiation: list length, then (length, name)*
                    var listEnd = reader.Position + 2 + reader.UInt16();
                    while (reader.Position < listEnd)
                    {
                        protocols.Add(Encoding.ASCII.GetString(reader.Bytes(reader.Byte())));
                    }

                    break;
            }

            reader.Position = next;
        }

        return new TlsClientHello(serverName, protocols);
    }

    private sealed class Reader(byte[] data)
    {
        public int Position { get; set; }

        public int Remaining => data.Length - Position;

        public int Byte() => data[Position++];

        public int UInt16()
        {
            var value = (data[Position] << 8) | data[Position + 1];
            Position += 2;
            return value;
        }

        public void Skip(int count) => Position += count;

        public ReadOnlySpan<byte> Bytes(int count)
        {
            var span = data.AsSpan(Position, count);
            Position += count;
            return span;
        }
    }
}
