using System.Diagnostics;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Service.Discovery.V3;
using Mesh.Testing;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Tests.Xds;

public class SotwAdsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Listener = "reviews.default.svc.cluster.local:9080";

    private static T Single<T>(DiscoveryResponse response)
        where T : Google.Protobuf.IMessage<T>, new() => Assert.Single(response.Resources).Unpack<T>();

    /// <summary>Walks LDS → RDS → CDS → EDS like a proxyless client, ACKing each; returns the last responses.</summary>
    private static async Task<(DiscoveryResponse Lds, DiscoveryResponse Rds, DiscoveryResponse Cds, DiscoveryResponse Eds)> FollowAsync(AdsTestClient client, string listenerName)
    {
        await client.SendAsync(XdsTypeUrls.Listener, [listenerName]);
        var lds = await client.ReceiveAsync(XdsTypeUrls.Listener);
        await client.AckAsync(lds, [listenerName]);
        var listener = Single<Listener>(lds);
        Assert.Equal(listenerName, listener.Name);
        var hcm = listener.ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>();
        var routeName = hcm.Rds.RouteConfigName;
        Assert.NotNull(hcm.Rds.ConfigSource.Ads);

        await client.SendAsync(XdsTypeUrls.RouteConfiguration, [routeName]);
        var rds = await client.ReceiveAsync(XdsTypeUrls.RouteConfiguration);
        await client.AckAsync(rds, [routeName]);
        var routes = Single<RouteConfiguration>(rds);
        Assert.Equal(routeName, routes.Name);
        var clusterNames = routes.VirtualHosts.SelectMany(v => v.Routes)
            .SelectMany(r => r.Route_.WeightedClusters is { } w ? w.Clusters.Select(c => c.Name) : [r.Route_.Cluster])
            .Distinct().Order(StringComparer.Ordinal).ToList();

        await client.SendAsync(XdsTypeUrls.Cluster, clusterNames);
        var cds = await client.ReceiveAsync(XdsTypeUrls.Cluster);
        await client.AckAsync(cds, clusterNames);
        Assert.Equal(clusterNames, cds.Resources.Select(r => r.Unpack<Cluster>().Name).Order(StringComparer.Ordinal));
        var edsNames = cds.Resources.Select(r => r.Unpack<Cluster>().EdsClusterConfig.ServiceName).Order(StringComparer.Ordinal).ToList();

        await client.SendAsync(XdsTypeUrls.ClusterLoadAssignment, edsNames);
        var eds = await client.ReceiveAsync(XdsTypeUrls.ClusterLoadAssignment);
        await client.AckAsync(eds, edsNames);
        Assert.Equal(edsNames, eds.Resources.Select(r => r.Unpack<ClusterLoadAssignment>().ClusterName).Order(StringComparer.Ordinal));
        return (lds, rds, cds, eds);
    }

    [Fact]
    public async Task Stream_FollowsListenerToEndpoints_ReceivesConsistentResourcesAndAcks()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);

        var (_, rds, _, eds) = await FollowAsync(client, Listener);

        var route = Assert.Single(Assert.Single(Single<RouteConfiguration>(rds).VirtualHosts).Routes);
        Assert.Equal(
            [("outbound|9080|v1|reviews.default.svc.cluster.local", 80u), ("outbound|9080|v2|reviews.default.svc.cluster.local", 20u)],
            route.Route_.WeightedClusters.Clusters.Select(c => (c.Name, c.Weight!.Value)));
        var v1 = eds.Resources.Select(r => r.Unpack<ClusterLoadAssignment>()).Single(a => a.ClusterName.Contains("|v1|", StringComparison.Ordinal));
        var endpoint = Assert.Single(Assert.Single(v1.Endpoints).LbEndpoints).Endpoint.Address.SocketAddress;
        Assert.Equal(("127.0.0.1", 20001u), (endpoint.Address, endpoint.PortValue));

        // The server recorded every ACK.
        var syncz = await WaitForAsync(cp, s => s[0]!["types"]!.AsArray().Count == 4 && s[0]!["types"]!.AsArray().All(t => (string?)t!["status"] == "ACKED"));
        Assert.Equal("test-node", (string?)syncz[0]!["nodeId"]);
    }

    [Fact]
    public async Task YamlEdit_DeliversNewVersionToSubscribedClient()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);
        var (_, rds, _, _) = await FollowAsync(client, Listener);
        var routeName = Single<RouteConfiguration>(rds).Name;

        var stopwatch = Stopwatch.StartNew();
        await cp.WriteFileAsync("reviews-vs.yaml", TestYaml.ReviewsSplit(50, 50));
        var update = await client.ReceiveAsync(XdsTypeUrls.RouteConfiguration);
        while (Single<RouteConfiguration>(update).VirtualHosts[0].Routes[0].Route_.WeightedClusters is null)
        {
            update = await client.ReceiveAsync(XdsTypeUrls.RouteConfiguration); // an intermediate state of the edit
        }

        stopwatch.Stop();
        output.WriteLine($"YAML edit to new route version at the client: {stopwatch.Elapsed.TotalMilliseconds:F0} ms");

        Assert.NotEqual(rds.VersionInfo, update.VersionInfo);
        var weights = Single<RouteConfiguration>(update).VirtualHosts[0].Routes[0].Route_.WeightedClusters.Clusters.Select(c => c.Weight!.Value);
        Assert.Equal([50u, 50u], weights);
        Assert.Equal(routeName, Single<RouteConfiguration>(update).Name);
        // Generous bound for a loaded CI machine; the debounce here is 50 ms and a typical delivery ~100 ms.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"the update took {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Nack_ShowsInSyncz_AndClientStaysOnPreviousVersion()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);
        var (_, rds, _, _) = await FollowAsync(client, Listener);
        var routeName = Single<RouteConfiguration>(rds).Name;

        await cp.WriteFileAsync("reviews-vs.yaml", TestYaml.ReviewsSplit(30, 70));
        var update = await client.ReceiveAsync(XdsTypeUrls.RouteConfiguration);
        await client.NackAsync(update, [routeName], rds.VersionInfo, "route rejected by the test client");

        var syncz = await WaitForAsync(cp, s => RouteStatus(s)?["lastNack"] is not null);
        var status = RouteStatus(syncz)!;
        Assert.Equal("NACKED", (string?)status["status"]);
        Assert.Equal(rds.VersionInfo, (string?)status["ackedVersion"]);
        Assert.Equal(update.VersionInfo, (string?)status["sentVersion"]);
        Assert.Equal("route rejected by the test client", (string?)status["lastNack"]!["message"]);
        Assert.Contains(cp.Logs.MessagesAtLeast(Microsoft.Extensions.Logging.LogLevel.Warning), m => m.Contains("route rejected by the test client", StringComparison.Ordinal));

        // The server does not resend the rejected version on its own.
        Assert.Null(await client.TryReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task BadYamlEdit_IsRejectedAndClientKeepsLastGoodConfig()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);
        await FollowAsync(client, Listener);

        await cp.WriteFileAsync("reviews-vs.yaml", TestYaml.ReviewsSplit(80, 20).Replace("subset: v2", "subset: v7", StringComparison.Ordinal));

        var configz = await WaitForAsync(cp, c => c["errors"]!.AsArray().Count > 0, "/debug/configz");
        var error = (string?)configz["errors"]![0];
        Assert.Contains("reviews-vs.yaml:1: VirtualService default/reviews: spec.http[0].route[1].destination.subset", error, StringComparison.Ordinal);
        Assert.Equal(1, (int)configz["version"]!);
        Assert.Null(await client.TryReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task NameThatDoesNotExistYet_IsPushedWhenItAppears()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);

        await client.SendAsync(XdsTypeUrls.Listener, ["ratings:9080"]);
        var empty = await client.ReceiveAsync(XdsTypeUrls.Listener);
        Assert.Empty(empty.Resources);
        await client.AckAsync(empty, ["ratings:9080"]);

        await cp.WriteFileAsync("ratings.yaml", TestYaml.ReviewsServiceEntry.Replace("reviews", "ratings", StringComparison.Ordinal));
        var pushed = await client.ReceiveAsync(XdsTypeUrls.Listener);

        Assert.Equal("ratings:9080", Single<Listener>(pushed).Name);
        var hcm = Single<Listener>(pushed).ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>();
        Assert.Equal("ratings.default.svc.cluster.local:9080", hcm.Rds.RouteConfigName);
    }

    [Fact]
    public async Task ShortListenerName_ResolvesInClientNamespace()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var inDefault = new AdsTestClient(cp.XdsAddress, "a", "default");
        await using var elsewhere = new AdsTestClient(cp.XdsAddress, "b", "shop");

        await inDefault.SendAsync(XdsTypeUrls.Listener, ["reviews", "reviews.default:9080"]);
        var found = await inDefault.ReceiveAsync(XdsTypeUrls.Listener);
        await elsewhere.SendAsync(XdsTypeUrls.Listener, ["reviews"]);
        var notFound = await elsewhere.ReceiveAsync(XdsTypeUrls.Listener);

        Assert.Equal(["reviews", "reviews.default:9080"], found.Resources.Select(r => r.Unpack<Listener>().Name).Order(StringComparer.Ordinal));
        Assert.Empty(notFound.Resources);
    }

    [Fact]
    public async Task EndpointOnlyChange_SendsOnlyEndpoints()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);
        await FollowAsync(client, Listener);

        await cp.WriteFileAsync("reviews-se.yaml", TestYaml.ReviewsServiceEntry.Replace("20002", "20012", StringComparison.Ordinal));
        var update = await client.ReceiveAsync();

        Assert.Equal(XdsTypeUrls.ClusterLoadAssignment, update.TypeUrl);
        var assignment = Single<ClusterLoadAssignment>(update);
        Assert.Equal("outbound|9080|v2|reviews.default.svc.cluster.local", assignment.ClusterName);
        Assert.Equal(20012u, assignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue);
        await client.AckAsync(update, ["outbound|9080|v1|reviews.default.svc.cluster.local", "outbound|9080|v2|reviews.default.svc.cluster.local"]);
        Assert.Null(await client.TryReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task WildcardClusterSubscription_ReceivesEveryCluster()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);

        await client.SendAsync(XdsTypeUrls.Cluster, []);
        var cds = await client.ReceiveAsync(XdsTypeUrls.Cluster);

        Assert.Equal(
            ["outbound|9080|v1|reviews.default.svc.cluster.local", "outbound|9080|v2|reviews.default.svc.cluster.local", "outbound|9080||reviews.default.svc.cluster.local"],
            cds.Resources.Select(r => r.Unpack<Cluster>().Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ServiceChange_PushesClustersBeforeListenersAndRoutes()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);
        await client.SendAsync(XdsTypeUrls.Listener, []);
        var lds = await client.ReceiveAsync(XdsTypeUrls.Listener);
        await client.AckAsync(lds, []);
        await client.SendAsync(XdsTypeUrls.Cluster, []);
        var cds = await client.ReceiveAsync(XdsTypeUrls.Cluster);
        await client.AckAsync(cds, []);

        // A new service adds a cluster and listeners at once: the cluster must come first.
        await cp.WriteFileAsync("ratings.yaml", TestYaml.ReviewsServiceEntry.Replace("reviews", "ratings", StringComparison.Ordinal));
        var first = await client.ReceiveAsync();
        var second = await client.ReceiveAsync();

        Assert.Equal(XdsTypeUrls.Cluster, first.TypeUrl);
        Assert.Equal(XdsTypeUrls.Listener, second.TypeUrl);
        Assert.Contains(second.Resources, r => r.Unpack<Listener>().Name == "ratings.default.svc.cluster.local:9080");
    }

    [Fact]
    public async Task ConfigDump_ShowsTheResourcesAClientHolds()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress, "dump-me");
        await FollowAsync(client, Listener);

        var dump = await cp.GetJsonAsync("/debug/config_dump?node=dump-me");

        Assert.Equal("dump-me", (string?)dump["node"]!["id"]);
        var routes = dump["types"]![XdsTypeUrls.RouteConfiguration]!["resources"]!.AsArray();
        var route = Assert.Single(routes)!;
        Assert.Equal("reviews.default.svc.cluster.local:9080", (string?)route["name"]);
        Assert.Equal(80, (int)route["resource"]!["virtualHosts"]![0]!["routes"]![0]!["route"]!["weightedClusters"]!["clusters"]![0]!["weight"]!);
        Assert.Equal("ok", await cp.Http.GetStringAsync("/healthz/ready"));
    }

    private static System.Text.Json.Nodes.JsonNode? RouteStatus(System.Text.Json.Nodes.JsonNode syncz) =>
        syncz[0]?["types"]?.AsArray().FirstOrDefault(t => (string?)t!["typeUrl"] == XdsTypeUrls.RouteConfiguration);

    private static async Task<System.Text.Json.Nodes.JsonNode> WaitForAsync(
        TestControlPlane cp,
        Func<System.Text.Json.Nodes.JsonNode, bool> condition,
        string path = "/debug/syncz")
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var json = await cp.GetJsonAsync(path);
            if (json is not System.Text.Json.Nodes.JsonArray { Count: 0 } && condition(json))
            {
                return json;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{path} never reached the expected state: {json.ToJsonString()}");
            }

            await Task.Delay(25);
        }
    }
}
