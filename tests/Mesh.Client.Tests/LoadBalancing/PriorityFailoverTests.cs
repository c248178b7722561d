using Grpc.Core;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.LoadBalancing;

/// <summary>
/// The priority choice of gRFC A56 (the highest READY priority; a connecting one holds calls for its 10 s failover
/// timer; back to a higher priority when it recovers), locality weights within the chosen priority, and slow start.
/// </summary>
public sealed class PriorityFailoverTests
{
    private sealed class NoHeaders : IRequestHeaders
    {
        public string? Get(string name) => null;
    }

    private static readonly RouteActionResource Action = new([new WeightedClusterResource("c", 1)], [], null);

    /// <summary>One locality per entry: (priority, weight, endpoint count); every endpoint starts in <paramref name="state"/>.</summary>
    private static (ClusterConfig Config, List<(LocalityResource, ClusterMember[])> Localities) Cluster(ConnectivityState state, params (uint Priority, uint Weight, int Count)[] localities)
    {
        var cluster = new ClusterResource("c", "c", LbPolicyKind.RoundRobin, 1024, 8 * 1024 * 1024, 2, 1024);
        var counter = new ClusterCounter(1024);
        var list = new List<(LocalityResource, ClusterMember[])>();
        for (var l = 0; l < localities.Length; l++)
        {
            var (priority, weight, count) = localities[l];
            var endpoints = Enumerable.Range(0, count).Select(i => new EndpointResource($"10.0.{l}.{i + 1}", 8080, 1)).ToArray();
            var members = endpoints.Select(e => new ClusterMember(new EndpointState(e.Host, e.Port, subchannel: null) { State = state }, counter)).ToArray();
            list.Add((new LocalityResource("r", "z" + l, string.Empty, weight, priority, [.. endpoints]), members));
        }

        return (new ClusterConfig("c", cluster, null, null), list);
    }

    private static void SetState(List<(LocalityResource, ClusterMember[])> localities, int locality, ConnectivityState state)
    {
        foreach (var member in localities[locality].Item2)
        {
            member.Endpoint.State = state;
        }
    }

    private static ClusterPicker Picker(ClusterConfig config, List<(LocalityResource, ClusterMember[])> localities, PriorityFailover chooser, TimeProvider time)
    {
        RingHashPicker? ring = null;
        return ClusterPicker.Create(config, localities, ref ring, out _, out _, 0, chooser, time);
    }

    private static string ZoneOf(ClusterPicker picker, List<(LocalityResource Locality, ClusterMember[] Members)> localities)
    {
        var member = picker.Pick(new NoHeaders(), Action).Member ?? throw new InvalidOperationException("no endpoint picked");
        return localities.Single(l => l.Members.Contains(member)).Locality.Zone;
    }

    [Fact]
    public void Choose_HigherPriorityReady_TakesAllCalls()
    {
        var time = new FakeTimeProvider();
        var (config, localities) = Cluster(ConnectivityState.Ready, (0, 1, 2), (1, 1, 2));
        using var chooser = new PriorityFailover(time, () => { });

        var picker = Picker(config, localities, chooser, time);

        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("z0", ZoneOf(picker, localities));
        }
    }

    [Fact]
    public void Choose_HigherPriorityFails_FailsOverAndComesBackWhenItRecovers()
    {
        var time = new FakeTimeProvider();
        var (config, localities) = Cluster(ConnectivityState.Ready, (0, 1, 2), (1, 1, 2));
        using var chooser = new PriorityFailover(time, () => { });
        Assert.Equal("z0", ZoneOf(Picker(config, localities, chooser, time), localities));

        SetState(localities, 0, ConnectivityState.TransientFailure);
        Assert.Equal("z1", ZoneOf(Picker(config, localities, chooser, time), localities));

        // Reconnecting after a failure does not take the calls back (no failover timer after TRANSIENT_FAILURE)…
        SetState(localities, 0, ConnectivityState.Connecting);
        Assert.Equal("z1", ZoneOf(Picker(config, localities, chooser, time), localities));

        // …READY does.
        SetState(localities, 0, ConnectivityState.Ready);
        Assert.Equal("z0", ZoneOf(Picker(config, localities, chooser, time), localities));
    }

    [Fact]
    public void Choose_HigherPriorityStillConnecting_CallsWaitUntilItsFailoverTimerFires()
    {
        var time = new FakeTimeProvider();
        var (config, localities) = Cluster(ConnectivityState.Connecting, (0, 1, 1), (1, 1, 1));
        var fired = 0;
        using var chooser = new PriorityFailover(time, () => Interlocked.Increment(ref fired));
        Assert.True(Picker(config, localities, chooser, time).Pick(new NoHeaders(), Action).IsWait);

        // Priority 1 is ready first: the calls still wait for priority 0, within its failover timer.
        SetState(localities, 1, ConnectivityState.Ready);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.True(Picker(config, localities, chooser, time).Pick(new NoHeaders(), Action).IsWait);

        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(1, fired);
        Assert.Equal("z1", ZoneOf(Picker(config, localities, chooser, time), localities));

        // Priority 0 connects later: calls go back to it.
        SetState(localities, 0, ConnectivityState.Ready);
        Assert.Equal("z0", ZoneOf(Picker(config, localities, chooser, time), localities));
    }

    [Fact]
    public void Choose_ReadyPriorityReconnecting_KeepsItsCallsForTheFailoverTimer()
    {
        var time = new FakeTimeProvider();
        var (config, localities) = Cluster(ConnectivityState.Ready, (0, 1, 1), (1, 1, 1));
        using var chooser = new PriorityFailover(time, () => { });
        Assert.Equal("z0", ZoneOf(Picker(config, localities, chooser, time), localities));

        // READY → CONNECTING (a GOAWAY, say): calls wait for it rather than moving at once…
        SetState(localities, 0, ConnectivityState.Connecting);
        Assert.True(Picker(config, localities, chooser, time).Pick(new NoHeaders(), Action).IsWait);

        // …for at most the failover timeout.
        time.Advance(PriorityFailover.FailoverTimeout + TimeSpan.FromSeconds(1));
        Assert.Equal("z1", ZoneOf(Picker(config, localities, chooser, time), localities));
    }

    [Fact]
    public void Choose_PriorityWithoutEndpoints_NextTakesTheCalls()
    {
        var time = new FakeTimeProvider();
        var (config, localities) = Cluster(ConnectivityState.Ready, (0, 1, 1), (1, 1, 1));
        using var chooser = new PriorityFailover(time, () => { });

        // Priority 0 has no endpoint at all (every one unhealthy in EDS): the next takes the calls.
        localities[0] = (localities[0].Item1 with { Endpoints = [] }, []);

        Assert.Equal("z1", ZoneOf(Picker(config, localities, chooser, time), localities));
    }

    [Fact]
    public void Pick_LocalityWeights_SplitCallsInProportion()
    {
        var time = new FakeTimeProvider();
        var (config, localities) = Cluster(ConnectivityState.Ready, (0, 80, 2), (0, 20, 2));
        using var chooser = new PriorityFailover(time, () => { });
        var picker = Picker(config, localities, chooser, time);

        var inA = 0;
        for (var i = 0; i < 10_000; i++)
        {
            inA += ZoneOf(picker, localities) == "z0" ? 1 : 0;
        }

        Assert.InRange(inA, 7_700, 8_300);
    }

    [Fact]
    public void Pick_SlowStart_NewEndpointRampsUpOverTheWindow()
    {
        var time = new FakeTimeProvider();
        var (config, localities) = Cluster(ConnectivityState.Ready, (0, 1, 2));
        config = config with { Cluster = config.Cluster! with { SlowStart = new SlowStartConfig(TimeSpan.FromSeconds(100), 1.0, 0.1) } };
        var old = localities[0].Item2[0];
        var fresh = localities[0].Item2[1];
        old.Endpoint.ActiveSince = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(1000)); // the first endpoint is long past its window
        fresh.Endpoint.ActiveSince = time.GetTimestamp();
        using var chooser = new PriorityFailover(time, () => { });

        double ShareOfFresh()
        {
            var picker = Picker(config, localities, chooser, time);
            var count = 0;
            for (var i = 0; i < 20_000; i++)
            {
                count += picker.Pick(new NoHeaders(), Action).Member == fresh ? 1 : 0;
            }

            return count / 20_000.0;
        }

        // Envoy's factor: max(10 %, elapsed / window). Fresh: 0.1 / 1.1; at 50 s: 0.5 / 1.5; past the window: a half.
        Assert.InRange(ShareOfFresh(), 0.07, 0.11);
        time.Advance(TimeSpan.FromSeconds(50));
        Assert.InRange(ShareOfFresh(), 0.30, 0.37);
        time.Advance(TimeSpan.FromSeconds(51));
        Assert.InRange(ShareOfFresh(), 0.49, 0.51);
    }

    [Fact]
    public void DecodeCluster_SlowStartOfRoundRobinAndLeastRequest_IsRead()
    {
        static Envoy.Config.Cluster.V3.Cluster Eds(Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy policy) => new()
        {
            Name = "c",
            Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
            LbPolicy = policy,
            EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig { EdsConfig = new Envoy.Config.Core.V3.ConfigSource { Ads = new Envoy.Config.Core.V3.AggregatedConfigSource() } },
        };
        var window = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(30));
        var roundRobin = Eds(Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.RoundRobin);
        roundRobin.RoundRobinLbConfig = new() { SlowStartConfig = new() { SlowStartWindow = window } };
        var leastRequest = Eds(Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.LeastRequest);
        leastRequest.LeastRequestLbConfig = new()
        {
            SlowStartConfig = new()
            {
                SlowStartWindow = window,
                Aggression = new Envoy.Config.Core.V3.RuntimeDouble { DefaultValue = 2, RuntimeKey = "k" },
                MinWeightPercent = new Envoy.Type.V3.Percent { Value = 25 },
            },
        };
        var badAggression = Eds(Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.RoundRobin);
        badAggression.RoundRobinLbConfig = new() { SlowStartConfig = new() { SlowStartWindow = window, Aggression = new Envoy.Config.Core.V3.RuntimeDouble { DefaultValue = -1, RuntimeKey = "k" } } };

        var rr = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(roundRobin).Resource).SlowStart;
        var lr = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(leastRequest).Resource).SlowStart;
        var bad = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(badAggression).Resource).SlowStart;

        Assert.Equal(new SlowStartConfig(TimeSpan.FromSeconds(30), 1.0, SlowStartConfig.DefaultMinWeight), rr);
        Assert.Equal(new SlowStartConfig(TimeSpan.FromSeconds(30), 2.0, 0.25), lr);
        Assert.Equal(1.0, bad!.Aggression); // Envoy falls back to 1 for an aggression that is not positive
        Assert.Null(Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(Eds(Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.RoundRobin)).Resource).SlowStart);
    }

    [Theory]
    [InlineData(0, 1.0, 0.1, 0.1)]
    [InlineData(50, 1.0, 0.1, 0.5)]
    [InlineData(25, 2.0, 0.1, 0.5)]
    [InlineData(5, 1.0, 0.2, 0.2)]
    [InlineData(100, 1.0, 0.1, 1.0)]
    public void Factor_EnvoysFormula(int elapsedSeconds, double aggression, double minimum, double expected)
    {
        var config = new SlowStartConfig(TimeSpan.FromSeconds(100), aggression, minimum);

        Assert.Equal(expected, config.Factor(TimeSpan.FromSeconds(elapsedSeconds)), 3);
    }
}
