using System.Text;

namespace Mesh.Fuzz;

/// <summary>
/// A deterministic, dependency-free mutator (the fallback engine when AFL++ is not there, and the test suite's short
/// mode): from a seed corpus, each input gets 1–4 of bit flips, random bytes, inserted or deleted ranges, duplicated
/// ranges, a splice with another seed, boundary integers, or tokens from a dictionary that matters for YAML, JSON, PEM and
/// protobuf. The same seed number gives the same sequence of inputs.
/// </summary>
internal sealed class Mutator(IReadOnlyList<byte[]> seeds, int seed)
{
    private readonly IReadOnlyList<byte[]> _corpus = seeds.Count > 0 ? seeds : [[]];

    private static readonly byte[][] Tokens =
    [
        .. new[]
        {
            "[", "]", "{", "}", "&a ", "*a", "!!binary ", "? ", ": ", "- ", "\n", "\n  ", "---\n", "'", "\"", "\\u0000", "%", "|\n",
            "null", "true", "-1", "0", "4294967296", "9223372036854775808", "1e309", "NaN", "\"\":", "{\"\":{}}", "[[[[[[[[",
            "-----BEGIN CERTIFICATE REQUEST-----\n", "-----END CERTIFICATE REQUEST-----\n", "=", ".", "..", "spiffe://", "/ns/", "/sa/",
            "xds:///", "grpc/server?xds.resource.listening_address=", "%s", "type.googleapis.com/",
        }.Select(Encoding.UTF8.GetBytes),
        [0x08, 0xff, 0xff, 0xff, 0xff, 0x0f], [0x0a, 0x80, 0x80, 0x80, 0x80, 0x08], [0x12, 0x00], [0xff], [0x00], [0x7f], [0x80],
    ];

    private readonly Random _random = new(seed);

    public byte[] Next()
    {
        var input = new List<byte>(_corpus[_random.Next(_corpus.Count)]);
        var count = 1 + _random.Next(4);
        for (var i = 0; i < count; i++)
        {
            Mutate(input);
        }

        if (input.Count > 64 * 1024)
        {
            input.RemoveRange(64 * 1024, input.Count - (64 * 1024));
        }

        return [.. input];
    }

    private void Mutate(List<byte> input)
    {
        var at = input.Count == 0 ? 0 : _random.Next(input.Count);
        switch (_random.Next(9))
        {
            case 0 when input.Count > 0:
                input[at] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when input.Count > 0:
                input[at] = (byte)_random.Next(256);
                break;
            case 2:
                for (var n = 1 + _random.Next(8); n > 0; n--)
                {
                    input.Insert(at, (byte)_random.Next(256));
                }

                break;
            case 3 when input.Count > 0:
                input.RemoveRange(at, Math.Min(input.Count - at, 1 + _random.Next(16)));
                break;
            case 4 when input.Count > 0:
                var length = Math.Min(input.Count - at, 1 + _random.Next(32));
                input.InsertRange(_random.Next(input.Count), input.GetRange(at, length));
                break;
            case 5:
                var other = _corpus[_random.Next(_corpus.Count)];
                if (other.Length > 0)
                {
                    var from = _random.Next(other.Length);
                    input.InsertRange(at, other.AsSpan(from, Math.Min(other.Length - from, 1 + _random.Next(64))).ToArray());
                }

                break;
            case 6 when input.Count >= 4:
                var value = _random.Next(4) switch { 0 => 0, 1 => -1, 2 => int.MaxValue, _ => int.MinValue };
                BitConverter.GetBytes(value).CopyTo(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(input)[Math.Min(at, input.Count - 4)..]);
                break;
            case 7 when input.Count > 0:
                input.RemoveRange(at, input.Count - at); // truncate
                break;
            default:
                input.InsertRange(at, Tokens[_random.Next(Tokens.Length)]);
                break;
        }
    }
}
