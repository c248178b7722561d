using Envoy.Config.Cluster.V3;
using Envoy.Service.Discovery.V3;
using Mesh.Testing;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Xds;

public class DeltaAdsTests
{
    private const string V1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
    private const string V2 = "outbound|9080|v2|reviews.default.svc.cluster.local";

    private static DeltaDiscoveryRequest Subscribe(string typeUrl, params string[] names)
    {
        var request = new DeltaDiscoveryRequest { TypeUrl = typeUrl };
        request.ResourceNamesSubscribe.AddRange(names);
        return request;
    }

    [Fact]
    public async Task Subscribe_ReceivesNamedResources_UnsubscribeStopsUpdates()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new DeltaAdsTestClient(cp.XdsAddress);

        await client.SendAsync(Subscribe(XdsTypeUrls.ClusterLoadAssignment, V1, V2));
        var first = await client.ReceiveAsync();
        await client.AckAsync(first);
        Assert.Equal([V1, V2], first.Resources.Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.All(first.Resources, r => Assert.False(string.IsNullOrEmpty(r.Version)));

        var unsubscribe = new DeltaDiscoveryRequest { TypeUrl = XdsTypeUrls.ClusterLoadAssignment };
        unsubscribe.ResourceNamesUnsubscribe.Add(V2);
        await client.SendAsync(unsubscribe);
        Assert.Null(await client.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));

        // Both endpoints change; only v1 is still subscribed.
        await cp.WriteFileAsync("reviews-se.yaml", TestYaml.ReviewsServiceEntry.Replace("20001", "20011", StringComparison.Ordinal).Replace("20002", "20012", StringComparison.Ordinal));
        var update = await client.ReceiveAsync();
        Assert.Equal([V1], update.Resources.Select(r => r.Name));
        Assert.Empty(update.RemovedResources);
    }

    [Fact]
    public async Task ServiceDeleted_NamedInRemovedResources()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new DeltaAdsTestClient(cp.XdsAddress);
        await client.SendAsync(Subscribe(XdsTypeUrls.Cluster, "*"));
        var clusters = await client.ReceiveAsync();
        await client.AckAsync(clusters);
        Assert.Equal(3, clusters.Resources.Count);

        // Removing the subsets (the VirtualService uses them, so it goes too) removes two clusters.
        cp.DeleteFile("reviews-vs.yaml");
        await cp.WriteFileAsync("reviews-dr.yaml", TestYaml.ReviewsDestinationRule.Replace("\n  - name: v2\n    labels: {version: v2}", string.Empty, StringComparison.Ordinal));
        var update = await client.ReceiveAsync();

        Assert.Equal([V2], update.RemovedResources);
        Assert.Empty(update.Resources);
    }

    [Fact]
    public async Task Reconnect_WithInitialResourceVersions_ResendsOnlyWhatChanged()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        Dictionary<string, string> held;
        await using (var first = new DeltaAdsTestClient(cp.XdsAddress))
        {
            await first.SendAsync(Subscribe(XdsTypeUrls.Cluster, V1, V2));
            var response = await first.ReceiveAsync();
            await first.AckAsync(response);
            held = response.Resources.ToDictionary(r => r.Name, r => r.Version);
        }

        // While disconnected, v2's cluster changes (a circuit breaker is added to the v2 subset).
        await cp.WriteFileAsync("reviews-dr.yaml", TestYaml.ReviewsDestinationRule.Replace(
            "labels: {version: v2}", "labels: {version: v2}\n    trafficPolicy: {connectionPool: {http: {http2MaxRequests: 7}}}", StringComparison.Ordinal));
        await Task.Delay(400);

        await using var second = new DeltaAdsTestClient(cp.XdsAddress);
        // The client also held a cluster that has since gone: it subscribes to it with the version it has.
        var resubscribe = Subscribe(XdsTypeUrls.Cluster, V1, V2, "outbound|9080|gone|reviews.default.svc.cluster.local");
        foreach (var (name, version) in held)
        {
            resubscribe.InitialResourceVersions.Add(name, version);
        }

        resubscribe.InitialResourceVersions.Add("outbound|9080|gone|reviews.default.svc.cluster.local", "abc");
        await second.SendAsync(resubscribe);
        var update = await second.ReceiveAsync();

        var resource = Assert.Single(update.Resources);
        Assert.Equal(V2, resource.Name);
        Assert.Equal(7u, resource.Resource_.Unpack<Cluster>().CircuitBreakers.Thresholds[0].MaxRequests);
        Assert.Equal(["outbound|9080|gone|reviews.default.svc.cluster.local"], update.RemovedResources);
    }

    [Fact]
    public async Task Nack_IsRecordedAndNothingIsResent()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new DeltaAdsTestClient(cp.XdsAddress, "delta-nack");
        await client.SendAsync(Subscribe(XdsTypeUrls.Cluster, V1));
        var response = await client.ReceiveAsync();

        await client.SendAsync(new DeltaDiscoveryRequest
        {
            TypeUrl = XdsTypeUrls.Cluster,
            ResponseNonce = response.Nonce,
            ErrorDetail = new Google.Rpc.Status { Code = 3, Message = "cluster rejected" },
        });

        Assert.Null(await client.TryReceiveAsync(TimeSpan.FromMilliseconds(300)));
        var syncz = await cp.GetJsonAsync("/debug/syncz");
        var status = syncz.AsArray().Single(c => (string?)c!["nodeId"] == "delta-nack")!["types"]![0]!;
        Assert.Equal("cluster rejected", (string?)status["lastNack"]!["message"]);
        Assert.Equal("NACKED", (string?)status["status"]);
    }
}
