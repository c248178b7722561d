using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Mesh.Testing.Kubernetes;

namespace Mesh.ControlPlane.Tests.Kubernetes;

/// <summary>The fake API server is real enough for kubectl and KubernetesClient.</summary>
public sealed class FakeKubernetesApiServerTests
{
    [Fact]
    public async Task Kubectl_ApplyBookinfoAndGet_ObjectsAreStoredAndListed()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var kubectl = new Kubectl(server);
        var manifest = Path.Combine(Kubectl.RepositoryRoot, "samples", "bookinfo", "kubernetes", "bookinfo.yaml");

        var apply = await kubectl.RunAsync(null, "apply", "--validate=false", "-f", manifest);
        Assert.True(apply.Exit == 0, apply.Error);
        Assert.Contains("service/reviews created", apply.Output, StringComparison.Ordinal);
        Assert.Contains("deployment.apps/reviews-v3 created", apply.Output, StringComparison.Ordinal);

        var get = await kubectl.RunAsync(null, "get", "services", "-o", "name");
        Assert.True(get.Exit == 0, get.Error);
        Assert.Equal(
            ["service/details", "service/productpage", "service/ratings", "service/reviews"],
            get.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

        // A second apply is a patch of each object: nothing changes, and kubectl says so.
        var again = await kubectl.RunAsync(null, "apply", "--validate=false", "-f", manifest);
        Assert.True(again.Exit == 0, again.Error);
        Assert.Contains("service/reviews unchanged", again.Output, StringComparison.Ordinal);

        var reviews = server.Store.Get(server.TypeOf("v1", "Service"), "default", "reviews")!;
        Assert.Equal(9080, reviews["spec"]!["ports"]![0]!["port"]!.GetValue<int>());
        Assert.NotNull(reviews["metadata"]!["annotations"]!["kubectl.kubernetes.io/last-applied-configuration"]);
    }

    [Fact]
    public async Task Kubectl_ApplyVirtualServiceThenChangeIt_PatchesTheCustomResource()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var kubectl = new Kubectl(server);
        const string Vs = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route: [{destination: {host: reviews, subset: WEIGHT}}]
            """;

        var first = await kubectl.RunAsync(Vs.Replace("WEIGHT", "v1", StringComparison.Ordinal), "apply", "--validate=false", "-f", "-");
        Assert.True(first.Exit == 0, first.Error);
        var second = await kubectl.RunAsync(Vs.Replace("WEIGHT", "v2", StringComparison.Ordinal), "apply", "--validate=false", "-f", "-");
        Assert.True(second.Exit == 0, second.Error);
        Assert.Contains("virtualservice.networking.istio.io/reviews configured", second.Output, StringComparison.Ordinal);

        var get = await kubectl.RunAsync(null, "get", "vs", "reviews", "-o", "json");
        Assert.True(get.Exit == 0, get.Error);
        var vs = JsonNode.Parse(get.Output)!;
        Assert.Equal("v2", vs["spec"]!["http"]![0]!["route"]![0]!["destination"]!["subset"]!.GetValue<string>());
        Assert.Equal(2, vs["metadata"]!["generation"]!.GetValue<int>());
    }

    [Fact]
    public async Task Kubectl_MissingCrd_IsReportedAsUnknownKind()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.SetMissing(server.TypeOf("telemetry.istio.io/v1", "Telemetry"));
        using var kubectl = new Kubectl(server);

        var get = await kubectl.RunAsync(null, "get", "telemetries.telemetry.istio.io");

        Assert.NotEqual(0, get.Exit);
        Assert.Contains("the server doesn't have a resource type", get.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_ResumeFromResourceVersion_DeliversOnlyLaterEvents_AndExpiredVersionGets410()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
        await client.CoreV1.CreateNamespacedServiceAsync(Service("a"), "default");
        var list = await client.CoreV1.ListNamespacedServiceAsync("default");
        Assert.Single(list.Items);
        await client.CoreV1.CreateNamespacedServiceAsync(Service("b"), "default");

        var events = new List<(WatchEventType, string)>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var watch = client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token);
        await foreach (var (type, item) in watch)
        {
            events.Add((type, item.Metadata.Name));
            if (events.Count == 1)
            {
                await client.CoreV1.DeleteNamespacedServiceAsync("a", "default", cancellationToken: cts.Token);
            }

            if (events.Count == 2)
            {
                break;
            }
        }

        Assert.Equal([(WatchEventType.Added, "b"), (WatchEventType.Deleted, "a")], events);

        server.Store.Compact();
        var errors = new List<Exception>();
        var expired = client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: list.Metadata.ResourceVersion, onError: errors.Add, cancellationToken: cts.Token);
        var seen = 0;
        await foreach (var _ in expired)
        {
            seen++;
        }

        Assert.Equal(0, seen);
        var gone = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, gone.Status.Code);
    }

    [Fact]
    public async Task Lease_ReplaceWithStaleResourceVersion_Conflicts()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
        var lease = await client.CoordinationV1.CreateNamespacedLeaseAsync(
            new V1Lease { Metadata = new V1ObjectMeta { Name = "mesh" }, Spec = new V1LeaseSpec { HolderIdentity = "a" } }, "mesh-system");
        lease.Spec.HolderIdentity = "b";
        await client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "mesh", "mesh-system");

        lease.Spec.HolderIdentity = "c"; // still carries the version before b's update
        var conflict = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "mesh", "mesh-system"));

        Assert.Equal(System.Net.HttpStatusCode.Conflict, conflict.Response.StatusCode);
        Assert.Equal("b", (await client.CoordinationV1.ReadNamespacedLeaseAsync("mesh", "mesh-system")).Spec.HolderIdentity);
    }

    [Fact]
    public async Task StatusSubresource_ObjectUpdateKeepsStatus_StatusUpdateKeepsSpec()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
        var vs = new JsonObject
        {
            ["apiVersion"] = "networking.istio.io/v1",
            ["kind"] = "VirtualService",
            ["metadata"] = new JsonObject { ["name"] = "r" },
            ["spec"] = new JsonObject { ["hosts"] = new JsonArray("r") },
        };
        await client.CustomObjects.CreateNamespacedCustomObjectAsync(vs, "networking.istio.io", "v1", "default", "virtualservices");
        var patch = new V1Patch("""{"status":{"validationMessages":[{"type":{"code":"IST0101"}}]}}""", V1Patch.PatchType.MergePatch);
        await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(patch, "networking.istio.io", "v1", "default", "virtualservices", "r");
        var specPatch = new V1Patch("""{"spec":{"hosts":["r2"]},"status":null}""", V1Patch.PatchType.MergePatch);
        await client.CustomObjects.PatchNamespacedCustomObjectAsync(specPatch, "networking.istio.io", "v1", "default", "virtualservices", "r");

        var stored = server.Store.Get(server.TypeOf("networking.istio.io/v1", "VirtualService"), "default", "r")!;
        Assert.Equal("IST0101", stored["status"]!["validationMessages"]![0]!["type"]!["code"]!.GetValue<string>());
        Assert.Equal("r2", stored["spec"]!["hosts"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task ForbiddenAndMissingTypes_Answer403And404()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
        server.SetForbidden(server.TypeOf("v1", "Pod"));
        server.SetMissing(server.TypeOf("gateway.networking.k8s.io/v1", "HTTPRoute"));

        var forbidden = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListPodForAllNamespacesAsync());
        var missing = await Assert.ThrowsAsync<HttpOperationException>(
            () => client.CustomObjects.ListClusterCustomObjectAsync("gateway.networking.k8s.io", "v1", "httproutes"));

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, forbidden.Response.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.Response.StatusCode);
        Assert.Empty((await client.CoreV1.ListServiceForAllNamespacesAsync()).Items); // other kinds still answer
    }

    private static V1Service Service(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Port = 80 }] },
    };
}
