using System.Collections.Immutable;
using Grpc.Core;
using Mesh.Client.LoadBalancing;
using Mesh.Client.LoadBalancing.RingHash;
using Mesh.Client.Resources;
using Mesh.Client.Routing;

namespace Mesh.Client.Tests.LoadBalancing;

public sealed class ClusterPickerTests
{
    private sealed class Headers(Dictionary<string, string> values) : IRequestHeaders
    {
        public string? Get(string name) => values.GetValueOrDefault(name);
    }

    private static (ClusterConfig Config, List<(LocalityResource, ClusterMember[])> Localities) Cluster(LbPolicyKind kind, bool shuffle, params EndpointResource[][] localities)
    {
        var cluster = new ClusterResource("c", "c", kind, 1024, 8 * 1024 * 1024, 2, 1024) { ShuffleAddressList = shuffle };
        var counter = new ClusterCounter(1024);
        var list = new List<(LocalityResource, ClusterMember[])>();
        for (var p = 0; p < localities.Length; p++)
        {
            var locality = new LocalityResource("r", "z" + p, string.Empty, 1, (uint)p, [.. localities[p]]);
            var members = localities[p].Select(e => new ClusterMember(new EndpointState(e.Host, e.Port, subchannel: null) { State = ConnectivityState.Ready }, counter)).ToArray();
            list.Add((locality, members));
        }

        return (new ClusterConfig("c", cluster, null, null), list);
    }

    private static EndpointResource[] Endpoints(int count, uint weight = 1) =>
        [.. Enumerable.Range(0, count).Select(i => new EndpointResource("10.0.0." + (i + 1), 8080, weight))];

    private static RouteActionResource Action(params HashPolicyResource[] policies) =>
        new([new WeightedClusterResource("c", 1)], [], null) { HashPolicies = [.. policies] };

    private static string Key(ClusterMember member) => member.Endpoint.Host + ":" + member.Endpoint.Port;

    [Fact]
    public void RingHash_HeaderPolicy_PicksTheA42RingEntry_AndWalksPastNotReady()
    {
        var (config, localities) = Cluster(LbPolicyKind.RingHash, false, Endpoints(5));
        RingHashPicker? ring = null;
        var picker = ClusterPicker.Create(config, localities, ref ring, out var ready, out _, channelId: 7);
        Assert.True(ready);
        var expectedRing = HashRing<string>.Build([.. Endpoints(5).Select(e => new RingEndpoint<string>(e.Host + ":8080", e.Host + ":8080", 1))], 1024, 8 * 1024 * 1024, 4096);
        var action = Action(new HashPolicyResource(HashPolicyKind.Header, "x-user", Terminal: false));

        for (var user = 0; user < 50; user++)
        {
            var headers = new Headers(new() { ["x-user"] = "user-" + user });
            Assert.Equal(expectedRing.Pick(Xxh64.Hash("user-" + user)), Key(picker.Pick(headers, action).Member!));
        }

        // The owner of user-0 goes down: the next entry on the ring with another endpoint takes it.
        var hash = Xxh64.Hash("user-0");
        var owner = picker.Pick(new Headers(new() { ["x-user"] = "user-0" }), action).Member!;
        owner.Endpoint.State = ConnectivityState.TransientFailure;
        var index = expectedRing.IndexOf(hash);
        var next = Enumerable.Range(1, expectedRing.Count).Select(i => expectedRing.ItemAt((index + i) % expectedRing.Count)).First(k => k != Key(owner));
        Assert.Equal(next, Key(picker.Pick(new Headers(new() { ["x-user"] = "user-0" }), action).Member!));
    }

    [Fact]
    public void RingHash_ChannelIdPolicy_AllCallsOfAChannelLandOnTheEntryOfItsId()
    {
        var (config, localities) = Cluster(LbPolicyKind.RingHash, false, Endpoints(4));
        var expectedRing = HashRing<string>.Build([.. Endpoints(4).Select(e => new RingEndpoint<string>(e.Host + ":8080", e.Host + ":8080", 1))], 1024, 8 * 1024 * 1024, 4096);
        var action = Action(new HashPolicyResource(HashPolicyKind.ChannelId, string.Empty, Terminal: false));
        var owners = new HashSet<string>();
        for (ulong channel = 1; channel <= 40; channel++)
        {
            RingHashPicker? ring = null;
            var picker = ClusterPicker.Create(config, localities, ref ring, out _, out _, channel * 0x9E3779B97F4A7C15UL);
            var picked = Key(picker.Pick(new Headers([]), action).Member!);
            Assert.Equal(expectedRing.Pick(channel * 0x9E3779B97F4A7C15UL), picked);
            Assert.Equal(picked, Key(picker.Pick(new Headers(new() { ["x-other"] = "1" }), action).Member!));
            owners.Add(picked);
        }

        Assert.True(owners.Count > 1, "40 channels should not all land on one endpoint");
    }

    [Fact]
    public void RingHash_EndpointHashKey_IsUsedInsteadOfTheAddress()
    {
        EndpointResource[] endpoints = [.. Endpoints(3).Select((e, i) => e with { HashKey = "key-" + i })];
        var (config, localities) = Cluster(LbPolicyKind.RingHash, false, endpoints);
        RingHashPicker? ring = null;
        var picker = ClusterPicker.Create(config, localities, ref ring, out _, out _);
        var expectedRing = HashRing<string>.Build([.. endpoints.Select(e => new RingEndpoint<string>(e.Host + ":8080", e.HashKey!, 1))], 1024, 8 * 1024 * 1024, 4096);
        var action = Action(new HashPolicyResource(HashPolicyKind.Header, "x-user", Terminal: false));

        for (var user = 0; user < 30; user++)
        {
            Assert.Equal(expectedRing.Pick(Xxh64.Hash("u" + user)), Key(picker.Pick(new Headers(new() { ["x-user"] = "u" + user }), action).Member!));
        }

        Assert.Equal(expectedRing.Count, ring!.Ring.Count);
        Assert.Equal(1026, ring.Ring.Count); // A42 scale: ceil(1024 / 3) × 3
    }

    [Fact]
    public void PickFirst_TakesTheFirstReadyEndpointInOrder()
    {
        var (config, localities) = Cluster(LbPolicyKind.PickFirst, false, Endpoints(2), [new EndpointResource("10.0.1.1", 8080, 1)]);
        RingHashPicker? ring = null;
        var picker = ClusterPicker.Create(config, localities, ref ring, out _, out _);
        var action = Action();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("10.0.0.1:8080", Key(picker.Pick(new Headers([]), action).Member!));
        }

        localities[0].Item2[0].Endpoint.State = ConnectivityState.Connecting;
        picker = ClusterPicker.Create(config, localities, ref ring, out _, out _);
        Assert.Equal("10.0.0.2:8080", Key(picker.Pick(new Headers([]), action).Member!));
        localities[0].Item2[1].Endpoint.State = ConnectivityState.TransientFailure;
        picker = ClusterPicker.Create(config, localities, ref ring, out _, out _);
        Assert.Equal("10.0.1.1:8080", Key(picker.Pick(new Headers([]), action).Member!));
    }

    [Fact]
    public void PickFirst_ShuffleAddressList_IsAStablePermutationPerChannel()
    {
        var (config, localities) = Cluster(LbPolicyKind.PickFirst, true, Endpoints(6));
        var firsts = new HashSet<string>();
        for (ulong channel = 1; channel <= 30; channel++)
        {
            RingHashPicker? ring = null;
            var picker = (PickFirstPicker)ClusterPicker.Create(config, localities, ref ring, out _, out _, channel);
            var again = (PickFirstPicker)ClusterPicker.Create(config, localities, ref ring, out _, out _, channel);
            Assert.Equal(picker.Order.Select(Key), again.Order.Select(Key));
            Assert.Equal(6, picker.Order.Select(Key).Distinct().Count());
            Assert.Equal(Key(picker.Order[0]), Key(picker.Pick(new Headers([]), Action()).Member!));
            firsts.Add(Key(picker.Order[0]));
        }

        Assert.True(firsts.Count > 2, "shuffled lists of 30 channels should not all start with the same endpoint");
    }
}
