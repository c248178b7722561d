using System.Diagnostics;
using System.Text.Json.Nodes;
using Mesh.Testing.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Kubernetes;

/// <summary>
/// Bookinfo applied with kubectl to the fake API server, pods standing in as real Kestrel servers on loopback, the
/// control plane reading the cluster, and a Mesh client (HttpClient with mesh routing) calling reviews through xDS.
/// </summary>
public sealed class KubernetesEndToEndTests
{
    private static readonly string Manifests = Path.Combine(Kubectl.RepositoryRoot, "samples", "bookinfo", "kubernetes", "bookinfo.yaml");

    internal static string Bootstrap(params Uri[] xds)
    {
        var servers = new JsonArray();
        foreach (var address in xds)
        {
            servers.Add(new JsonObject
            {
                ["server_uri"] = address.Authority,
                ["channel_creds"] = new JsonArray(new JsonObject { ["type"] = "insecure" }),
                ["server_features"] = new JsonArray("xds_v3"),
            });
        }

        return new JsonObject
        {
            ["xds_servers"] = servers,
            ["node"] = new JsonObject { ["id"] = "productpage-v1-abc.default", ["cluster"] = "test", ["metadata"] = new JsonObject { ["NAMESPACE"] = "default" } },
        }.ToJsonString();
    }

    internal static ServiceProvider Client(params Uri[] xds)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = Bootstrap(xds));
        services.AddHttpClient("reviews", c =>
        {
            c.BaseAddress = new Uri("http://reviews:9080");
            c.Timeout = TimeSpan.FromSeconds(5);
        }).AddMeshRouting();
        return services.BuildServiceProvider();
    }

    internal static async Task ApplyBookinfoAsync(FakeKubernetesApiServer server, Kubectl kubectl, LoopbackBackends backends, params string[] versions)
    {
        var apply = await kubectl.RunAsync(null, "apply", "--validate=false", "-f", Manifests);
        Assert.True(apply.Exit == 0, apply.Error);

        // What the Deployment controller would do: one pod per reviews version.
        foreach (var version in versions)
        {
            server.Store.Upsert(KubernetesObjects.Pod($"reviews-{version}-pod", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = version }, "reviews"));
        }

        _ = backends;
    }

    /// <summary>The EndpointSlice controller's slice for one pod (one slice per pod, since each backend has its own port).</summary>
    internal static JsonObject Slice(LoopbackBackends backends, string version, bool ready = true) =>
        KubernetesObjects.EndpointSlice($"reviews-{version}", "reviews", backends.Ports[version], [("127.0.0.1", $"reviews-{version}-pod")], portName: "grpc",
            notReady: ready ? null : new HashSet<string> { $"reviews-{version}-pod" });

    [Fact]
    public async Task KubectlApplyBookinfo_EndpointSliceAppears_ClientRoutesWithinOneSecond()
    {
        await using var backends = await LoopbackBackends.StartAsync("v1");
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var kubectl = new Kubectl(server);
        await ApplyBookinfoAsync(server, kubectl, backends, "v1");
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        await using var provider = Client(cp.XdsAddress);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        using (var before = await client.GetAsync("/hello"))
        {
            Assert.False(before.IsSuccessStatusCode); // the Service exists, but no endpoint yet
        }

        var clock = Stopwatch.StartNew();
        server.Store.Upsert(Slice(backends, "v1"));
        string? answer = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            using var response = await client.GetAsync("/hello");
            if (response.IsSuccessStatusCode)
            {
                answer = await response.Content.ReadAsStringAsync();
                break;
            }

            await Task.Delay(10);
        }

        Assert.Equal("v1", answer);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"the first routed call took {clock.Elapsed.TotalMilliseconds:F0} ms after the EndpointSlice appeared");
    }

    [Fact]
    public async Task EndpointTurnsNotReady_NewCallsStopGoingToIt_WithZeroFailedCalls()
    {
        await using var backends = await LoopbackBackends.StartAsync("v1", "v2");
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var kubectl = new Kubectl(server);
        await ApplyBookinfoAsync(server, kubectl, backends, "v1", "v2");
        server.Store.Upsert(Slice(backends, "v1"));
        server.Store.Upsert(Slice(backends, "v2"));
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        await using var provider = Client(cp.XdsAddress);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("reviews");

        var failures = 0;
        var calls = 0;
        async Task CallAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                using var response = await client.GetAsync("/hello");
                Interlocked.Increment(ref calls);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }

        await CallAsync(100);
        Assert.True(backends.Calls.GetValueOrDefault("v2") > 20, "v2 takes its share while ready");

        // v2's pod turns not-ready (it still serves what reaches it, as a pod whose probe failed does) while calls go on.
        var load = Task.Run(() => CallAsync(400));
        server.Store.Upsert(Slice(backends, "v2", ready: false));
        await Eventually.TrueAsync(() => cp.Services.GetRequiredService<Mesh.ControlPlane.Model.MeshSnapshotProvider>().Current.Services["reviews.default.svc.cluster.local"]
            .Endpoints.Any(e => e.Health == Mesh.ControlPlane.Model.EndpointHealth.Unhealthy), "v2 not ready in the snapshot");
        await Task.Delay(500); // pushed and applied by the client
        await load;
        var v2Before = backends.Calls.GetValueOrDefault("v2");
        await CallAsync(200);

        Assert.Equal(0, failures);
        Assert.Equal(v2Before, backends.Calls.GetValueOrDefault("v2"));
    }

    [Fact]
    public async Task KubectlApplyVirtualService_ShiftsTraffic_AndABadOneKeepsTheLastGoodRouting()
    {
        await using var backends = await LoopbackBackends.StartAsync("v1", "v2");
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var kubectl = new Kubectl(server);
        await ApplyBookinfoAsync(server, kubectl, backends, "v1", "v2");
        server.Store.Upsert(Slice(backends, "v1"));
        server.Store.Upsert(Slice(backends, "v2"));
        var rules = await kubectl.RunAsync(File.ReadAllText(Path.Combine(Kubectl.RepositoryRoot, "samples", "bookinfo", "config", "destination-rules.yaml")), "apply", "--validate=false", "-f", "-");
        Assert.True(rules.Exit == 0, rules.Error);
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        await using var provider = Client(cp.XdsAddress);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("reviews");

        var toV2 = await kubectl.RunAsync(VirtualService("v2", 100), "apply", "--validate=false", "-f", "-");
        Assert.True(toV2.Exit == 0, toV2.Error);
        await Eventually.TrueAsync(async () => await client.GetStringAsync("/hello") == "v2" && await client.GetStringAsync("/hello") == "v2", "traffic on v2");
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("v2", await client.GetStringAsync("/hello"));
        }

        // A weight out of range: rejected, reported against the cluster object, and v2 keeps all traffic.
        var bad = await kubectl.RunAsync(VirtualService("v1", -5), "apply", "--validate=false", "-f", "-");
        Assert.True(bad.Exit == 0, bad.Error);
        await Eventually.TrueAsync(async () => (await cp.GetJsonAsync("/debug/configz"))["errors"]!.AsArray()
            .Any(e => e!.GetValue<string>().StartsWith("k8s:VirtualService/default/reviews", StringComparison.Ordinal)), "the error in configz");
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal("v2", await client.GetStringAsync("/hello"));
        }
    }

    internal static string VirtualService(string subset, int weight) => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http:
          - route:
            - destination: {host: reviews, subset: {{subset}}}
              weight: {{weight}}
        """;
}
