using System.Text.Json.Nodes;
using Mesh.ControlPlane.Kubernetes;
using Mesh.ControlPlane.Model;
using Mesh.Testing.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Kubernetes;

/// <summary>The Kubernetes source: list, watch, relist, reconnect, missing and forbidden kinds, and the YAML source beside it.</summary>
public sealed class KubernetesConfigSourceTests
{
    private const string ReviewsHost = "reviews.default.svc.cluster.local";

    private static MeshSnapshot Snapshot(KubernetesTestControlPlane cp) => cp.Services.GetRequiredService<MeshSnapshotProvider>().Current;

    private static string[] Endpoints(KubernetesTestControlPlane cp, string host = ReviewsHost) =>
        Snapshot(cp).Services.TryGetValue(host, out var service)
            ? [.. service.Endpoints.Select(e => $"{e.Address}:{e.Ports.Values.First()}:{e.Health}").Order(StringComparer.Ordinal)]
            : [];

    private static string[] StoreEndpoints(FakeKubernetesApiServer server)
    {
        var result = new List<string>();
        foreach (var slice in server.Store.List(server.TypeOf("discovery.k8s.io/v1", "EndpointSlice")))
        {
            var port = slice["ports"]![0]!["port"]!.GetValue<int>();
            foreach (var endpoint in slice["endpoints"]!.AsArray())
            {
                var ready = endpoint!["conditions"]!["ready"]!.GetValue<bool>();
                result.Add($"{endpoint["addresses"]![0]!.GetValue<string>()}:{port}:{(ready ? "Healthy" : "Unhealthy")}");
            }
        }

        return [.. result.Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task Start_ClusterObjects_BecomeOneSnapshotWithKubernetesOrigins()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(KubernetesObjects.Pod("reviews-v1-a", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v1" }, "bookinfo-reviews"));
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "reviews-v1-a")]));

        await using var cp = await KubernetesTestControlPlane.StartAsync(server);

        var service = Snapshot(cp).Services[ReviewsHost];
        var endpoint = Assert.Single(service.Endpoints);
        Assert.Equal("10.0.0.1", endpoint.Address);
        Assert.Equal("v1", endpoint.Labels["version"]);
        Assert.Equal("bookinfo-reviews", endpoint.ServiceAccount);
        Assert.Contains("k8s:Service/default/reviews", service.DeclaredBy, StringComparison.Ordinal);
        Assert.Contains(cp.Source.Current.Resources, r => r.Origin == "k8s:EndpointSlice/default/reviews-1" && r.Kind == "EndpointSlice");
        Assert.DoesNotContain(cp.Source.Current.Resources, r => r.Kind is "Namespace");
    }

    [Fact]
    public async Task Watch_ObjectsAddedChangedAndDeleted_FollowIntoTheSnapshot()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        Assert.Empty(Endpoints(cp));

        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "a"), ("10.0.0.2", "b")]));
        await Eventually.TrueAsync(() => Endpoints(cp).Length == 2, "two endpoints");

        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "a"), ("10.0.0.2", "b")], notReady: new HashSet<string> { "b" }));
        await Eventually.TrueAsync(() => Endpoints(cp).Contains("10.0.0.2:9080:Unhealthy"), "b not ready");

        server.Store.Delete(server.TypeOf("discovery.k8s.io/v1", "EndpointSlice"), "default", "reviews-1");
        await Eventually.TrueAsync(() => Endpoints(cp).Length == 0, "the slice deleted");
    }

    [Fact]
    public async Task Watch_Expired410_RelistsWithoutDuplicateOrLostEndpoints()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "a")]));
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-2", "reviews", 9080, [("10.0.0.2", "b")]));
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        var slices = cp.Source.Status.Single(s => s.Kind.Kind == "EndpointSlice");
        Assert.Equal(1, slices.Relists);

        // The watch is dropped, changes happen while it is away, and the history is compacted: resuming gets 410.
        server.Store.DropWatches();
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-3", "reviews", 9080, [("10.0.0.3", "c")]));
        server.Store.Delete(server.TypeOf("discovery.k8s.io/v1", "EndpointSlice"), "default", "reviews-1");
        server.Store.Compact();
        server.Store.DropWatches();

        await Eventually.TrueAsync(() => cp.Source.Status.Single(s => s.Kind.Kind == "EndpointSlice").Relists >= 2, "a relist");
        await Eventually.TrueAsync(() => Endpoints(cp).SequenceEqual(StoreEndpoints(server)), "the snapshot to equal the store");
        Assert.Equal(["10.0.0.2:9080:Healthy", "10.0.0.3:9080:Healthy"], Endpoints(cp));
        Assert.Contains(cp.Logs.Entries, e => e.Message.Contains("410 Gone", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Watch_DroppedTwentyTimesUnderLoad_ServedEndpointsEqualTheStore()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);

        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var slice = i % 10;
                var endpoints = Enumerable.Range(0, 1 + (i % 4)).Select(n => ($"10.1.{slice}.{n}", $"pod-{slice}-{n}")).ToList();
                if (i % 7 == 3)
                {
                    server.Store.Delete(server.TypeOf("discovery.k8s.io/v1", "EndpointSlice"), "default", $"reviews-{slice}");
                }
                else
                {
                    server.Store.Upsert(KubernetesObjects.EndpointSlice($"reviews-{slice}", "reviews", 9080, endpoints,
                        notReady: i % 3 == 0 ? new HashSet<string> { $"pod-{slice}-0" } : null));
                }

                i++;
                await Task.Delay(2);
            }
        });

        int SliceWatches() => server.Requests.Count(r => r.StartsWith("GET /apis/discovery.k8s.io/v1/endpointslices?watch=true", StringComparison.Ordinal));
        for (var drop = 0; drop < 20; drop++)
        {
            // Each time, the watch has come back and carried events for a while before it is dropped again.
            var opened = SliceWatches();
            await Eventually.TrueAsync(() => SliceWatches() > opened || server.Store.OpenWatches >= cp.Source.Status.Count, "the watch to come back");
            await Task.Delay(40);
            server.Store.DropWatches(abort: drop % 2 == 0); // half end cleanly, half are reset mid-stream
            if (drop == 10)
            {
                server.Store.Compact(); // and once the history is gone too
            }
        }

        await stop.CancelAsync();
        await writer;
        await Eventually.TrueAsync(() => SliceWatches() >= 21, "the first watch and one after each of the 20 drops");
        await Eventually.TrueAsync(() => Endpoints(cp).SequenceEqual(StoreEndpoints(server)), "the served endpoints to equal the store", TimeSpan.FromSeconds(15));
        var cached = cp.Source.Objects(cp.Source.Status.Single(s => s.Kind.Kind == "EndpointSlice").Kind)
            .Select(o => o["metadata"]!["name"] + "@" + o["metadata"]!["resourceVersion"]).Order(StringComparer.Ordinal);
        var stored = server.Store.List(server.TypeOf("discovery.k8s.io/v1", "EndpointSlice"))
            .Select(o => o["metadata"]!["name"] + "@" + o["metadata"]!["resourceVersion"]).Order(StringComparer.Ordinal);
        Assert.Equal(stored, cached);
    }

    [Fact]
    public async Task MissingCrd_OtherKindsWork_ConfigzNamesIt_AndItIsPickedUpOnceInstalled()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        var httpRoutes = server.TypeOf("gateway.networking.k8s.io/v1", "HTTPRoute");
        var virtualServices = server.TypeOf("networking.istio.io/v1", "VirtualService");
        server.SetMissing(httpRoutes);
        server.SetMissing(virtualServices);
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "a")]));

        await using var cp = await KubernetesTestControlPlane.StartAsync(server);

        Assert.Single(Endpoints(cp));
        var configz = await cp.GetJsonAsync("/debug/configz");
        var missing = configz["kubernetes"]!["missingKinds"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Equal(["virtualservices.networking.istio.io", "httproutes.gateway.networking.k8s.io"], missing);
        Assert.Equal("ok", await cp.Http.GetStringAsync("/healthz/ready"));

        // The CRD gets installed with a VirtualService in it: the retry finds it.
        server.SetMissing(virtualServices, false);
        server.Store.Upsert(new JsonObject
        {
            ["apiVersion"] = "networking.istio.io/v1",
            ["kind"] = "VirtualService",
            ["metadata"] = new JsonObject { ["name"] = "reviews", ["namespace"] = "default" },
            ["spec"] = JsonNode.Parse("""{"hosts":["reviews"],"http":[{"route":[{"destination":{"host":"reviews"}}]}]}"""),
        });
        await Eventually.TrueAsync(() => Snapshot(cp).Routes.ContainsKey(ReviewsHost), "the VirtualService once its CRD exists");
        configz = await cp.GetJsonAsync("/debug/configz");
        Assert.Equal(["httproutes.gateway.networking.k8s.io"], configz["kubernetes"]!["missingKinds"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public async Task ForbiddenKind_IsReportedAndRetried_OtherKindsWork()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.SetForbidden(server.TypeOf("v1", "Pod"));
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "a")]));

        await using var cp = await KubernetesTestControlPlane.StartAsync(server);

        Assert.Single(Endpoints(cp));
        var configz = await cp.GetJsonAsync("/debug/configz");
        Assert.Equal("pods", Assert.Single(configz["kubernetes"]!["forbiddenKinds"]!.AsArray())!.GetValue<string>());
        var pods = configz["kubernetes"]!["kinds"]!.AsArray().Single(k => k!["kind"]!.GetValue<string>() == "Pod")!;
        Assert.Contains("cannot list resource \"pods\"", pods["lastError"]!.GetValue<string>(), StringComparison.Ordinal);

        server.SetForbidden(server.TypeOf("v1", "Pod"), false);
        await Eventually.TrueAsync(() => cp.Source.Status.Single(s => s.Kind.Kind == "Pod").State == InformerState.Watching, "pods once granted");
    }

    [Fact]
    public async Task YamlDirectoryAndCluster_Together_ServiceEntryAndServicesInOneSnapshot()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "a")]));
        const string VmEntry = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ratings-vm}
            spec:
              hosts: [ratings-vm.example.internal]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}]
              endpoints: [{address: 192.168.10.5}]
            """;

        await using var cp = await KubernetesTestControlPlane.StartAsync(server, new Dictionary<string, string> { ["vm.yaml"] = VmEntry });

        var snapshot = Snapshot(cp);
        Assert.Equal("192.168.10.5", Assert.Single(snapshot.Services["ratings-vm.example.internal"].Endpoints).Address);
        Assert.Equal("10.0.0.1", Assert.Single(snapshot.Services[ReviewsHost].Endpoints).Address);

        // Both keep following their source.
        server.Store.Upsert(KubernetesObjects.Service("details"));
        await Eventually.TrueAsync(() => Snapshot(cp).Services.ContainsKey("details.default.svc.cluster.local"), "a Service added to the cluster");
        Assert.True(Snapshot(cp).Services.ContainsKey("ratings-vm.example.internal"));
    }

    [Fact]
    public async Task DiscoverySelector_OnlyMatchingNamespacesReachTheModel()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Namespace("default", new Dictionary<string, string> { ["mesh.io/discovery"] = "enabled" }));
        server.Store.Upsert(KubernetesObjects.Namespace("other"));
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(KubernetesObjects.Service("reviews", @namespace: "other"));

        await using var cp = await KubernetesTestControlPlane.StartAsync(server, configure: o => o.DiscoverySelector = "mesh.io/discovery=enabled");

        Assert.True(Snapshot(cp).Services.ContainsKey(ReviewsHost));
        Assert.False(Snapshot(cp).Services.ContainsKey("reviews.other.svc.cluster.local"));
        server.Store.Upsert(KubernetesObjects.Namespace("other", new Dictionary<string, string> { ["mesh.io/discovery"] = "enabled" }));
        await Eventually.TrueAsync(() => Snapshot(cp).Services.ContainsKey("reviews.other.svc.cluster.local"), "the namespace once labelled");
    }

    [Fact]
    public async Task ApiServerLost_LastGoodSnapshotKeepsServing_AndReadyAndSynczSaySo()
    {
        var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "a")]));
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        using (var syncz = await cp.Http.GetAsync("/debug/syncz"))
        {
            Assert.Equal("in-sync", Assert.Single(syncz.Headers.GetValues("Mesh-Kubernetes-Sync")));
        }

        var version = Snapshot(cp).Version;
        await server.DisposeAsync();

        await Eventually.TrueAsync(() => !cp.Source.InSync, "the source to notice");
        var ready = await cp.Http.GetAsync("/healthz/ready");
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        var text = await ready.Content.ReadAsStringAsync();
        Assert.StartsWith($"ok: serving configuration version {version}, the last good one; out-of-sync since", text, StringComparison.Ordinal);
        using (var syncz = await cp.Http.GetAsync("/debug/syncz"))
        {
            Assert.StartsWith("out-of-sync since", Assert.Single(syncz.Headers.GetValues("Mesh-Kubernetes-Sync")), StringComparison.Ordinal);
        }

        Assert.Equal(version, Snapshot(cp).Version);
        Assert.Equal(["10.0.0.1:9080:Healthy"], Endpoints(cp));
        Assert.False((await cp.GetJsonAsync("/debug/configz"))["kubernetes"]!["inSync"]!.GetValue<bool>());
    }
}
