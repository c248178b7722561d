using System.Text.Json.Nodes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.GatewayApi;
using Mesh.ControlPlane.Kubernetes;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Tests.Kubernetes;
using Mesh.Testing.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.GatewayApi;

/// <summary>
/// The Gateway API read from a (fake) Kubernetes API server: status conditions written back by the leader, and a GAMMA
/// route applied by a Mesh client calling over real sockets.
/// </summary>
public sealed class GatewayApiKubernetesTests
{
    private static void FastStatus(KubernetesSourceOptions o)
    {
        o.Identity = "only";
        o.LeaseNamespace = "mesh-system";
        o.LeaseDuration = TimeSpan.FromSeconds(2);
        o.RenewDeadline = TimeSpan.FromSeconds(1.5);
        o.RetryPeriod = TimeSpan.FromMilliseconds(250);
        o.StatusInterval = TimeSpan.FromMilliseconds(200);
    }

    private static void Apply(FakeKubernetesApiServer server, params string[] documents)
    {
        foreach (var document in documents)
        {
            var set = YamlResourceReader.Read(document, "test.yaml", "default");
            Assert.Empty(set.Errors);
            foreach (var resource in set.Resources)
            {
                server.Store.Upsert(resource.Body);
            }
        }
    }

    private static JsonNode? Status(FakeKubernetesApiServer server, string apiVersion, string kind, string ns, string name) =>
        server.Store.Get(server.TypeOf(apiVersion, kind), ns, name)?["status"];

    /// <summary>The named condition of the first parent a route's status has for Mesh's controller <paramref name="controller"/>.</summary>
    private static JsonNode? ParentCondition(JsonNode? status, string type, string controller = GatewayApiNames.GatewayController) =>
        (status?["parents"] as JsonArray)?.FirstOrDefault(p => p?["controllerName"]?.GetValue<string>() == controller)?["conditions"]?.AsArray()
            .FirstOrDefault(c => c?["type"]?.GetValue<string>() == type);

    private static bool Is(JsonNode? condition, string status, string reason) =>
        condition?["status"]?.GetValue<string>() == status && condition["reason"]?.GetValue<string>() == reason;

    private const string V1 = "gateway.networking.k8s.io/v1";

    [Fact]
    public async Task StatusConditions_WrittenByTheLeader_RefNotPermittedUntilAReferenceGrantExists()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        Apply(server, GatewayApiYaml.Services, GatewayApiYaml.BookinfoGateway.Replace("from: Same", "from: All", StringComparison.Ordinal));

        // Another controller already reports on the route: its entry stays.
        var bookinfo = server.Store.Get(server.TypeOf(V1, "HTTPRoute"), "default", "bookinfo")!;
        bookinfo["status"] = JsonNode.Parse("""{"parents":[{"parentRef":{"name":"edge"},"controllerName":"example.com/edge","conditions":[]}]}""");
        server.Store.Upsert(bookinfo);
        Apply(server, GatewayApiYaml.Route("frontend", "  - backendRefs: [{name: reviews, namespace: default, port: 9080}]", parent: "{name: bookinfo-gateway, namespace: default}", hostnames: "[frontend.example.com]", ns: "frontend"));
        Apply(server, GatewayApiYaml.Route("broken", "  - backendRefs: [{name: nosuch, port: 9080}]", hostnames: "[broken.example.com]"));
        Apply(server, """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: conflicted}
            spec:
              gatewayClassName: istio
              listeners:
              - {name: first, port: 8080, protocol: HTTP}
              - {name: second, port: 8080, protocol: HTTP}
            """);
        await using var cp = await KubernetesTestControlPlane.StartAsync(server, configure: FastStatus);

        await Eventually.TrueAsync(() => Is(ParentCondition(Status(server, V1, "HTTPRoute", "default", "bookinfo"), "Accepted"), "True", "Accepted"), "bookinfo accepted");
        var gateway = Status(server, V1, "Gateway", "default", "bookinfo-gateway")!;
        var programmed = gateway["conditions"]!.AsArray().Single(c => c!["type"]!.GetValue<string>() == "Programmed")!;
        Assert.Equal("True", programmed["status"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(programmed["lastTransitionTime"]?.GetValue<string>()));
        Assert.Equal(3, gateway["listeners"]![0]!["attachedRoutes"]!.GetValue<int>());
        Assert.True(Is(ParentCondition(Status(server, V1, "HTTPRoute", "default", "bookinfo"), "ResolvedRefs"), "True", "ResolvedRefs"));
        Assert.Contains(Status(server, V1, "HTTPRoute", "default", "bookinfo")!["parents"]!.AsArray(), p => p!["controllerName"]!.GetValue<string>() == "example.com/edge");

        await Eventually.TrueAsync(() => Is(ParentCondition(Status(server, V1, "HTTPRoute", "default", "broken"), "ResolvedRefs"), "False", "BackendNotFound"), "broken: BackendNotFound");
        await Eventually.TrueAsync(() => Is(ParentCondition(Status(server, V1, "HTTPRoute", "frontend", "frontend"), "ResolvedRefs"), "False", "RefNotPermitted"), "frontend: RefNotPermitted");
        await Eventually.TrueAsync(() => Status(server, V1, "Gateway", "default", "conflicted")?["listeners"]?[1]?["conditions"]?.AsArray()
            .Any(c => Is(c, "True", "HostnameConflict")) == true, "the second listener conflicted");

        // The grant arrives: the route resolves, and its condition's time moves.
        Apply(server, """
            apiVersion: gateway.networking.k8s.io/v1beta1
            kind: ReferenceGrant
            metadata: {name: frontend-routes, namespace: default}
            spec:
              from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: frontend}]
              to: [{group: "", kind: Service}]
            """);
        await Eventually.TrueAsync(() => Is(ParentCondition(Status(server, V1, "HTTPRoute", "frontend", "frontend"), "ResolvedRefs"), "True", "ResolvedRefs"), "frontend resolved once granted");

        // A quiet cluster sees no more writes: the status is written only when it changes.
        var leader = cp.Services.GetRequiredService<KubernetesLeader>();
        await Task.Delay(600);
        var writes = leader.StatusWrites;
        await Task.Delay(800);
        Assert.Equal(writes, leader.StatusWrites);

        // The same status is on /debug/configz.
        var configz = await cp.GetJsonAsync("/debug/configz");
        Assert.Contains(configz["gatewayApi"]!.AsArray(), s => s!["kind"]!.GetValue<string>() == "HTTPRoute" && s["name"]!.GetValue<string>() == "broken");
    }

    [Fact]
    public async Task GammaRoute_ServiceParentSplitsReviewsNinetyTen_MeshClientFollowsIt()
    {
        await using var backends = await LoopbackBackends.StartAsync("v1", "v2");
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        foreach (var version in new[] { "v1", "v2" })
        {
            server.Store.Upsert(KubernetesObjects.Service("reviews-" + version));
            server.Store.Upsert(KubernetesObjects.Pod($"reviews-{version}-pod", new Dictionary<string, string> { ["app"] = "reviews-" + version }));
            server.Store.Upsert(KubernetesObjects.EndpointSlice("reviews-" + version, "reviews-" + version, backends.Ports[version], [("127.0.0.1", $"reviews-{version}-pod")]));
        }

        await using var cp = await KubernetesTestControlPlane.StartAsync(server, configure: FastStatus);
        await using var provider = KubernetesEndToEndTests.Client(cp.XdsAddress);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("reviews");

        Apply(server, GatewayApiYaml.Route("reviews", """
              - backendRefs:
                - {name: reviews-v1, port: 9080, weight: 90}
                - {name: reviews-v2, port: 9080, weight: 10}
            """, parent: "{group: \"\", kind: Service, name: reviews}"));
        await Eventually.TrueAsync(async () =>
        {
            using var response = await client.GetAsync("/hello");
            return response.IsSuccessStatusCode;
        }, "the route to reach the client", TimeSpan.FromSeconds(15));

        backends.Calls.Clear();
        for (var i = 0; i < 400; i++)
        {
            using var response = await client.GetAsync("/hello");
            Assert.True(response.IsSuccessStatusCode, $"call {i}: {(int)response.StatusCode}");
        }

        var v1 = backends.Calls.GetValueOrDefault("v1");
        var v2 = backends.Calls.GetValueOrDefault("v2");
        Assert.Equal(400, v1 + v2);
        Assert.InRange(v2, 16, 70); // 10 % of 400 is 40; three standard deviations (6) either side, and more

        await Eventually.TrueAsync(() => Is(ParentCondition(Status(server, V1, "HTTPRoute", "default", "reviews"), "Accepted", GatewayApiNames.MeshController), "True", "Accepted"), "the route accepted");
        var snapshot = cp.Services.GetRequiredService<MeshSnapshotProvider>().Current;
        Assert.Contains("converted from the Gateway API", snapshot.Routes["reviews.default.svc.cluster.local"].DeclaredBy, StringComparison.Ordinal);
    }
}
