using System.Buffers;

namespace Mesh.Client.Telemetry;

/// <summary>
/// Counts gRPC messages in a byte stream as it passes (each message is a 5-byte prefix — compressed flag and
/// big-endian length — followed by that many bytes), without buffering: a small state machine fed any slicing of the
/// stream. Also counts the bytes.
/// </summary>
internal struct GrpcFrameCounter
{
    private int _headerRead;
    private uint _length;
    private long _remaining;

    /// <summary>Messages whose prefix has been seen.</summary>
    public long Messages { get; private set; }

    /// <summary>Bytes seen.</summary>
    public long Bytes { get; private set; }

    public void Add(ReadOnlySpan<byte> data)
    {
        Bytes += data.Length;
        while (!data.IsEmpty)
        {
            if (_remaining > 0)
            {
                var skip = (int)Math.Min(_remaining, data.Length);
                _remaining -= skip;
                data = data[skip..];
                continue;
            }

            // In a prefix: byte 0 is the flag, bytes 1..4 the length.
            if (_headerRead > 0)
            {
                _length = (_length << 8) | data[0];
            }

            _headerRead++;
            data = data[1..];
            if (_headerRead == 5)
            {
                Messages++;
                _remaining = _length;
                _headerRead = 0;
                _length = 0;
            }
        }
    }

    public void Add(in ReadOnlySequence<byte> data)
    {
        foreach (var segment in data)
        {
            Add(segment.Span);
        }
    }
}
