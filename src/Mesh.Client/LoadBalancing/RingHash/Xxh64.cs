using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Mesh.Client.LoadBalancing.RingHash;

/// <summary>
/// XXH64 with seed 0, the hash gRFC A42 names for ring hash (as Envoy, grpc-go and grpc-java use it): ring entries
/// hash <c>"{hashKey}_{index}"</c>, requests hash header values, both as UTF-8.
/// </summary>
internal static class Xxh64
{
    private const ulong Prime1 = 11400714785074694791UL;
    private const ulong Prime2 = 14029467366897019727UL;
    private const ulong Prime3 = 1609587929392839161UL;
    private const ulong Prime4 = 9650029242287828579UL;
    private const ulong Prime5 = 2870177450012600261UL;

    /// <summary>Hashes the UTF-8 bytes of <paramref name="text"/>; no allocation for text up to 256 bytes.</summary>
    public static ulong Hash(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var length = Encoding.UTF8.GetByteCount(text);
        if (length <= 256)
        {
            Span<byte> buffer = stackalloc byte[256];
            var written = Encoding.UTF8.GetBytes(text, buffer);
            return Hash(buffer[..written]);
        }

        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Encoding.UTF8.GetBytes(text, rented);
            return Hash(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Hashes <paramref name="input"/> with seed 0.</summary>
    public static ulong Hash(ReadOnlySpan<byte> input)
    {
        var length = input.Length;
        var i = 0;
        ulong hash;
        if (length >= 32)
        {
            var v1 = unchecked(Prime1 + Prime2);
            var v2 = Prime2;
            var v3 = 0UL;
            var v4 = unchecked(0UL - Prime1);
            while (i <= length - 32)
            {
                v1 = Round(v1, BinaryPrimitives.ReadUInt64LittleEndian(input[i..]));
                v2 = Round(v2, BinaryPrimitives.ReadUInt64LittleEndian(input[(i + 8)..]));
                v3 = Round(v3, BinaryPrimitives.ReadUInt64LittleEndian(input[(i + 16)..]));
                v4 = Round(v4, BinaryPrimitives.ReadUInt64LittleEndian(input[(i + 24)..]));
                i += 32;
            }

            hash = unchecked(BitOperations.RotateLeft(v1, 1) + BitOperations.RotateLeft(v2, 7) + BitOperations.RotateLeft(v3, 12) + BitOperations.RotateLeft(v4, 18));
            hash = MergeRound(hash, v1);
            hash = MergeRound(hash, v2);
            hash = MergeRound(hash, v3);
            hash = MergeRound(hash, v4);
        }
        else
        {
            hash = Prime5;
        }

        unchecked
        {
            hash += (ulong)length;
            while (i + 8 <= length)
            {
                hash ^= Round(0, BinaryPrimitives.ReadUInt64LittleEndian(input[i..]));
                hash = (BitOperations.RotateLeft(hash, 27) * Prime1) + Prime4;
                i += 8;
            }

            if (i + 4 <= length)
            {
                hash ^= BinaryPrimitives.ReadUInt32LittleEndian(input[i..]) * Prime1;
                hash = (BitOperations.RotateLeft(hash, 23) * Prime2) + Prime3;
                i += 4;
            }

            while (i < length)
            {
                hash ^= input[i] * Prime5;
                hash = BitOperations.RotateLeft(hash, 11) * Prime1;
                i++;
            }

            hash ^= hash >> 33;
            hash *= Prime2;
            hash ^= hash >> 29;
            hash *= Prime3;
            hash ^= hash >> 32;
            return hash;
        }
    }

    private static ulong Round(ulong accumulator, ulong lane) =>
        unchecked(BitOperations.RotateLeft(accumulator + (lane * Prime2), 31) * Prime1);

    private static ulong MergeRound(ulong accumulator, ulong value) =>
        unchecked(((accumulator ^ Round(0, value)) * Prime1) + Prime4);
}
