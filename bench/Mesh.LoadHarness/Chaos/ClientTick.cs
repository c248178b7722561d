using System.Globalization;

namespace Mesh.LoadHarness.Chaos;

/// <summary>One 250 ms report of the load client (see <see cref="ChaosClient"/>): the calls that completed in it.</summary>
internal sealed record ClientTick(long UnixMs, long Completed, long Ok, long Failed, long V1, long V2, long FirstFailMs, long LastFailMs, string Error)
{
    /// <summary>Parses <c>tick UNIX_MS COMPLETED OK FAILED V1 V2 FIRST_FAIL LAST_FAIL ERROR</c>; null for any other line.</summary>
    public static ClientTick? Parse(string line)
    {
        var parts = line.Split(' ');
        if (parts.Length < 10 || parts[0] != "tick")
        {
            return null;
        }

        static long L(string s) => long.Parse(s, CultureInfo.InvariantCulture);
        return new ClientTick(L(parts[1]), L(parts[2]), L(parts[3]), L(parts[4]), L(parts[5]), L(parts[6]), L(parts[7]), L(parts[8]), parts[9]);
    }
}
