using System.Diagnostics;
using Mesh.ControlPlane.Kubernetes;
using Mesh.Testing.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Kubernetes;

/// <summary>Status and Events back to the cluster, written by the one replica that holds the Lease.</summary>
public sealed class KubernetesStatusAndLeaderTests
{
    private static void FastLease(KubernetesSourceOptions o, string identity)
    {
        o.Identity = identity;
        o.LeaseNamespace = "mesh-system";
        o.LeaseDuration = TimeSpan.FromSeconds(2);
        o.RenewDeadline = TimeSpan.FromSeconds(1.5);
        o.RetryPeriod = TimeSpan.FromMilliseconds(250);
        o.StatusInterval = TimeSpan.FromMilliseconds(200);
    }

    private static KubernetesLeader Leader(KubernetesTestControlPlane cp) => cp.Services.GetRequiredService<KubernetesLeader>();

    [Fact]
    public async Task BadVirtualService_GetsValidationMessageAndEvent_ClearedWhenFixed()
    {
        await using var backends = await LoopbackBackends.StartAsync("v1");
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var kubectl = new Kubectl(server);
        await KubernetesEndToEndTests.ApplyBookinfoAsync(server, kubectl, backends, "v1");
        var rules = await kubectl.RunAsync(File.ReadAllText(Path.Combine(Kubectl.RepositoryRoot, "samples", "bookinfo", "config", "destination-rules.yaml")), "apply", "--validate=false", "-f", "-");
        Assert.True(rules.Exit == 0, rules.Error);
        await using var cp = await KubernetesTestControlPlane.StartAsync(server, configure: o => FastLease(o, "only"));
        var vsType = server.TypeOf("networking.istio.io/v1", "VirtualService");

        var bad = await kubectl.RunAsync(KubernetesEndToEndTests.VirtualService("v1", -5), "apply", "--validate=false", "-f", "-");
        Assert.True(bad.Exit == 0, bad.Error);

        await Eventually.TrueAsync(() => server.Store.Get(vsType, "default", "reviews")?["status"]?["validationMessages"] is not null, "the status");
        var get = await kubectl.RunAsync(null, "get", "vs", "reviews", "-o", "json");
        var status = System.Text.Json.Nodes.JsonNode.Parse(get.Output)!["status"]!;
        var message = status["validationMessages"]![0]!;
        Assert.Equal("IST0106", message["type"]!["code"]!.GetValue<string>());
        Assert.Equal("ERROR", message["level"]!.GetValue<string>());
        Assert.Contains("weight", message["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(1, status["observedGeneration"]!.GetValue<int>());
        var events = server.Store.List(server.TypeOf("v1", "Event"), "default");
        var rejected = Assert.Single(events);
        Assert.Equal("Rejected", rejected["reason"]!.GetValue<string>());
        Assert.Equal("reviews", rejected["involvedObject"]!["name"]!.GetValue<string>());
        Assert.Equal("VirtualService", rejected["involvedObject"]!["kind"]!.GetValue<string>());

        var good = await kubectl.RunAsync(KubernetesEndToEndTests.VirtualService("v1", 100), "apply", "--validate=false", "-f", "-");
        Assert.True(good.Exit == 0, good.Error);
        await Eventually.TrueAsync(() => server.Store.Get(vsType, "default", "reviews")?["status"]?["validationMessages"] is null,
            "the messages cleared; errors: " + string.Join(" | ", cp.Services.GetRequiredService<Mesh.ControlPlane.Model.MeshSnapshotProvider>().LastErrors));
        Assert.Single(server.Store.List(server.TypeOf("v1", "Event"), "default")); // no Event for an accepted update
    }

    [Fact]
    public async Task TwoReplicas_OneHoldsTheLeaseAndWritesStatus_LeaseMovesWhenItStops_ClientsKeepRouting()
    {
        await using var backends = await LoopbackBackends.StartAsync("v1", "v2");
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var kubectl = new Kubectl(server);
        await KubernetesEndToEndTests.ApplyBookinfoAsync(server, kubectl, backends, "v1", "v2");
        server.Store.Upsert(KubernetesEndToEndTests.Slice(backends, "v1"));
        server.Store.Upsert(KubernetesEndToEndTests.Slice(backends, "v2"));
        await using var a = await KubernetesTestControlPlane.StartAsync(server, configure: o => FastLease(o, "replica-a"));
        await using var b = await KubernetesTestControlPlane.StartAsync(server, configure: o => FastLease(o, "replica-b"));

        await Eventually.TrueAsync(() => Leader(a).IsLeader || Leader(b).IsLeader, "a leader");
        await Task.Delay(1000); // a few renewal rounds: still exactly one
        Assert.True(Leader(a).IsLeader ^ Leader(b).IsLeader, "exactly one replica leads");
        var (leader, follower) = Leader(a).IsLeader ? (a, b) : (b, a);
        var lease = server.Store.Get(server.TypeOf("coordination.k8s.io/v1", "Lease"), "mesh-system", "mesh-controlplane")!;
        Assert.Equal(Leader(leader).Identity, lease["spec"]!["holderIdentity"]!.GetValue<string>());

        // Both serve xDS: a client of each routes.
        await using var service = new LoopbackServiceAddress(leader.XdsAddress, follower.XdsAddress);
        await using var viaLeader = KubernetesEndToEndTests.Client(service.Address);
        await using var viaFollower = KubernetesEndToEndTests.Client(follower.XdsAddress);
        var leaderClient = viaLeader.GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        var followerClient = viaFollower.GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        Assert.StartsWith("v", await leaderClient.GetStringAsync("/hello"), StringComparison.Ordinal);
        Assert.StartsWith("v", await followerClient.GetStringAsync("/hello"), StringComparison.Ordinal);

        // Only the leader writes status.
        var bad = await kubectl.RunAsync(KubernetesEndToEndTests.VirtualService("v1", -5), "apply", "--validate=false", "-f", "-");
        Assert.True(bad.Exit == 0, bad.Error);
        await Eventually.TrueAsync(() => Leader(leader).StatusWrites > 0, "the leader's status write");
        await Task.Delay(600);
        Assert.Equal(0, Leader(follower).StatusWrites);

        // The leader stops (without releasing the Lease): the follower takes it once it expires. The client that reached
        // the stopped replica through the Service address keeps routing from its cache with no failed call, reconnects
        // through the same address to the other replica, and follows the configuration from there.
        var failures = 0;
        using var calling = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!calling.IsCancellationRequested)
            {
                using var response = await leaderClient.GetAsync("/hello");
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }

                await Task.Delay(5);
            }
        });
        var clock = Stopwatch.StartNew();
        await leader.StopAsync();
        await Eventually.TrueAsync(() => Leader(follower).IsLeader, "the follower to lead", TimeSpan.FromSeconds(10));
        var takeover = clock.Elapsed;
        Assert.True(takeover < TimeSpan.FromSeconds(2) + TimeSpan.FromSeconds(1.5), $"the Lease moved after {takeover.TotalMilliseconds:F0} ms (lease duration 2 s)");
        lease = server.Store.Get(server.TypeOf("coordination.k8s.io/v1", "Lease"), "mesh-system", "mesh-controlplane")!;
        Assert.Equal(Leader(follower).Identity, lease["spec"]!["holderIdentity"]!.GetValue<string>());

        // The new leader writes status for the next rejected update; the other client keeps routing through it.
        var writes = Leader(follower).StatusWrites;
        var bad2 = await kubectl.RunAsync(KubernetesEndToEndTests.VirtualService("v2", -7), "apply", "--validate=false", "-f", "-");
        Assert.True(bad2.Exit == 0, bad2.Error);
        await Eventually.TrueAsync(() => Leader(follower).StatusWrites > writes, "the new leader's status write");
        Assert.StartsWith("v", await followerClient.GetStringAsync("/hello"), StringComparison.Ordinal);
        var rules = await kubectl.RunAsync(File.ReadAllText(Path.Combine(Kubectl.RepositoryRoot, "samples", "bookinfo", "config", "destination-rules.yaml")), "apply", "--validate=false", "-f", "-");
        Assert.True(rules.Exit == 0, rules.Error);
        var toV2 = await kubectl.RunAsync(KubernetesEndToEndTests.VirtualService("v2", 100), "apply", "--validate=false", "-f", "-");
        Assert.True(toV2.Exit == 0, toV2.Error);
        await Eventually.TrueAsync(async () => await leaderClient.GetStringAsync("/hello") == "v2" && await leaderClient.GetStringAsync("/hello") == "v2",
            "the client of the stopped replica to follow a change served by the other", TimeSpan.FromSeconds(20));
        await calling.CancelAsync();
        await load;
        Assert.Equal(0, failures);
    }
}
