using System.Collections.Immutable;
using Mesh.Client.LoadBalancing.RingHash;
using Mesh.Client.Resources;

namespace Mesh.Client.Tests.LoadBalancing.RingHash;

/// <summary>
/// Ring hash as gRFC A42 specifies it. The expected values were computed independently with the reference xxHash
/// library (python-xxhash 3.2, <c>xxh64(..., seed=0)</c>) and the A42 ring algorithm (the same one grpc-go and
/// Envoy run); they are written down here so that any drift fails.
/// </summary>
public class HashRingTests
{
    [Theory]
    [InlineData("", 0xef46db3751d8e999UL)]
    [InlineData("a", 0xd24ec4f1a98c6e5bUL)]
    [InlineData("abc", 0x44bc2cf5ad770999UL)]
    [InlineData("Nobody inspects the spammish repetition", 0xfbcea83c8a378bf1UL)]
    [InlineData("10.0.0.1:8080_0", 0x23a29ae775dfd4a3UL)]
    [InlineData("user-1", 0xa173746b114c6be8UL)]
    public void Hash_KnownVectors_MatchXxh64Seed0(string text, ulong expected)
    {
        Assert.Equal(expected, Xxh64.Hash(text));
    }

    [Fact]
    public void Hash_LongInput_MatchesXxh64Seed0()
    {
        Assert.Equal(0x92f0de5a88a3c094UL, Xxh64.Hash(new string('x', 100)));
        Assert.Equal(Xxh64.Hash(new string('y', 300)), Xxh64.Hash(new string('y', 300))); // the pooled-buffer path
    }

    private static readonly RingEndpoint<string>[] Endpoints =
    [
        new("10.0.0.3:8080", "10.0.0.3:8080", 2),
        new("[::1]:9090", "[::1]:9090", 1),
        new("10.0.0.1:8080", "10.0.0.1:8080", 1),
        new("10.0.0.2:8080", "10.0.0.2:8080", 1),
    ];

    [Fact]
    public void Build_DefaultSizes_GivesEachEndpointItsShareOfA42Entries()
    {
        var ring = HashRing<string>.Build(Endpoints, 1024, 8 * 1024 * 1024);

        var counts = Enumerable.Range(0, ring.Count).GroupBy(ring.ItemAt).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1025, ring.Count); // scale = ceil(0.2 × 1024) / 0.2
        Assert.Equal(410, counts["10.0.0.3:8080"]);
        Assert.Equal(205, counts["10.0.0.1:8080"]);
        for (var i = 1; i < ring.Count; i++)
        {
            Assert.True(ring.HashAt(i - 1) <= ring.HashAt(i));
        }
    }

    [Theory]
    [InlineData("user-1", "10.0.0.3:8080")]
    [InlineData("user-2", "10.0.0.3:8080")]
    [InlineData("user-3", "[::1]:9090")]
    [InlineData("alice", "10.0.0.3:8080")]
    [InlineData("bob", "10.0.0.3:8080")]
    [InlineData("carol", "[::1]:9090")]
    [InlineData("dave", "10.0.0.2:8080")]
    [InlineData("eve", "10.0.0.2:8080")]
    public void Pick_HeaderValue_LandsOnTheEndpointOtherImplementationsChoose(string key, string expected)
    {
        var ring = HashRing<string>.Build(Endpoints, 1024, 8 * 1024 * 1024);

        Assert.Equal(expected, ring.Pick(Xxh64.Hash(key)));
    }

    [Fact]
    public void Build_SmallRing_HasTheExactEntriesAndWraps()
    {
        var ring = HashRing<string>.Build([new("b", "b:1", 1), new("a", "a:1", 3)], 4, 8);

        Assert.Equal(4, ring.Count);
        Assert.Equal(
            new[] { (0x2b7adb9ec254724dUL, "a"), (0x92bdd4ef111aafe9UL, "a"), (0xa1befa2aecb03e09UL, "b"), (0xb1fec3db3f447e55UL, "a") },
            Enumerable.Range(0, 4).Select(i => (ring.HashAt(i), ring.ItemAt(i))).ToArray());
        Assert.Equal("a", ring.Pick(0));
        Assert.Equal("b", ring.Pick(0xa1befa2aecb03e09UL)); // equal hash: that entry
        Assert.Equal("a", ring.Pick(ulong.MaxValue)); // past the last: wraps to the first
    }

    [Fact]
    public void Build_RingSizeCap_LimitsTheRing()
    {
        var endpoints = Enumerable.Range(1, 3).Select(i => new RingEndpoint<int>(i, $"10.0.0.{i}:80", (ulong)i)).ToArray();

        var capped = HashRing<int>.Build(endpoints, 100_000, 8 * 1024 * 1024, HashRing<int>.GrpcDefaultRingSizeCap);
        var uncapped = HashRing<int>.Build(endpoints, 100_000, 8 * 1024 * 1024);

        Assert.InRange(capped.Count, 4096, 4097);
        Assert.True(uncapped.Count >= 100_000);
    }

    [Fact]
    public void KeyOf_UsesA76HashKeyElseTheGrpcAddressForm()
    {
        Assert.Equal("10.0.0.1:80", RingEndpoint<int>.KeyOf(new EndpointResource("10.0.0.1", 80, 1)));
        Assert.Equal("[::1]:80", RingEndpoint<int>.KeyOf(new EndpointResource("::1", 80, 1)));
        Assert.Equal("shard-7", RingEndpoint<int>.KeyOf(new EndpointResource("10.0.0.1", 80, 1) { HashKey = "shard-7" }));
    }

    [Fact]
    public void RequestHash_CombinesPoliciesInOrderAndStopsAtATerminalOneThatHashed()
    {
        var headers = new Dictionary<string, string> { ["x"] = "p", ["y"] = "q" };
        static string? Get(Dictionary<string, string> h, string name) => h.TryGetValue(name, out var v) ? v : null;
        HashPolicyResource Header(string name, bool terminal = false) => new(HashPolicyKind.Header, name, terminal);

        Assert.Equal(0xf0dcc96a4a8d2f92UL, RequestHash.Compute([Header("x"), Header("y")], headers, Get, 7));
        Assert.Equal(Xxh64.Hash("p"), RequestHash.Compute([Header("missing", terminal: true), Header("x", terminal: true), Header("y")], headers, Get, 7));
        Assert.Equal(7UL, RequestHash.Compute([new HashPolicyResource(HashPolicyKind.ChannelId, string.Empty, true), Header("x")], headers, Get, 7));
        Assert.Null(RequestHash.Compute([Header("missing"), Header("x-bin")], new Dictionary<string, string> { ["x-bin"] = "v" }, Get, 7));
        Assert.Null(RequestHash.Compute(ImmutableArray<HashPolicyResource>.Empty, headers, Get, 7));
    }
}
