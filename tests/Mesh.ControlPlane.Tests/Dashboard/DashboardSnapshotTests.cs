using System.Text.Json.Nodes;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Dashboard;
using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Xds;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.ControlPlane.Tests.Dashboard;

/// <summary>The JSON the dashboard page draws, built from a mesh model and load reports fed to the store.</summary>
public class DashboardSnapshotTests
{
    private const string ReviewsV1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
    private const string ReviewsV3 = "outbound|9080|v3|reviews.default.svc.cluster.local";
    private const string Ratings = "outbound|9080||ratings.default.svc.cluster.local";

    private const string Services = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: productpage, namespace: default}
        spec:
          hosts: [productpage.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP}]
          endpoints:
          - {address: 127.0.0.1, ports: {http: 30001}, labels: {app: productpage, version: v1}, serviceAccount: productpage}
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: 30002}, labels: {app: reviews, version: v1}, serviceAccount: reviews}
          - {address: 127.0.0.1, ports: {grpc: 30003}, labels: {app: reviews, version: v2}, serviceAccount: reviews}
          - {address: 127.0.0.1, ports: {grpc: 30004}, labels: {app: reviews, version: v3}, serviceAccount: reviews}
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ratings, namespace: default}
        spec:
          hosts: [ratings.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: 30005}, labels: {app: ratings, version: v1}, serviceAccount: ratings}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
          - {name: v3, labels: {version: v3}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews]
          http:
          - route:
            - {destination: {host: reviews, subset: v1}, weight: 90}
            - {destination: {host: reviews, subset: v3}, weight: 10}
        """;

    private const string Strict = """
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: default}
        spec:
          mtls: {mode: STRICT}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: reviews-from-productpage, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          action: ALLOW
          rules:
          - from: [{source: {principals: [cluster.local/ns/default/sa/productpage]}}]
        """;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));

    private static MeshSnapshot Model(string yaml)
    {
        var read = YamlResourceReader.Read(yaml, "bookinfo.yaml", "default");
        Assert.Empty(read.Errors);
        var result = MeshModelBuilder.Build(read.Resources, version: 7);
        Assert.Empty(result.Errors);
        return result.Snapshot!;
    }

    private static Node Node(string workload) => new()
    {
        Id = workload + ".default",
        Metadata = new Struct { Fields = { ["NAMESPACE"] = Value.ForString("default"), ["WORKLOAD_NAME"] = Value.ForString(workload) } },
    };

    private static ClusterStats Stats(string cluster, ulong succeeded, ulong errored, params (string Name, ulong Count, double Sum)[] metrics)
    {
        var locality = new UpstreamLocalityStats
        {
            Locality = new Envoy.Config.Core.V3.Locality(),
            TotalIssuedRequests = succeeded + errored,
            TotalSuccessfulRequests = succeeded,
            TotalErrorRequests = errored,
        };
        foreach (var (name, count, sum) in metrics)
        {
            locality.LoadMetricStats.Add(new EndpointLoadMetricStats { MetricName = name, NumRequestsFinishedWithMetric = count, TotalMetricValue = sum });
        }

        return new ClusterStats { ClusterName = cluster, UpstreamLocalityStats = { locality }, LoadReportInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) };
    }

    private LoadReportStore Store() => new(_time, NullLogger<LoadReportStore>.Instance);

    private JsonObject Build(MeshSnapshot mesh, EdgeRateTracker tracker, LoadReportStore store, IReadOnlyList<ConfigError>? errors = null, IReadOnlyList<DashboardClient>? clients = null) =>
        DashboardSnapshot.Build(new DashboardInputs(
            mesh, errors ?? [], [], clients ?? [], tracker.Sample(), store.Reports, LoadReporting: true, tracker.Window, _time.GetUtcNow()));

    private static JsonObject Edge(JsonObject snapshot, string id) =>
        snapshot["edges"]!.AsArray().Select(e => e!.AsObject()).SingleOrDefault(e => e["id"]!.GetValue<string>() == id)
        ?? throw new Xunit.Sdk.XunitException($"no edge {id} in {snapshot["edges"]!.ToJsonString()}");

    [Fact]
    public void Build_CanaryReports_WorkloadsGroupedAndEdgesCarryRatesSharesWeightsAndTargets()
    {
        var mesh = Model(Services);
        var store = Store();
        var tracker = new EdgeRateTracker(store, _time);
        store.Record(Node("productpage-v1"), [Stats(ReviewsV1, 0, 0), Stats(ReviewsV3, 0, 0)]);
        tracker.Sample();
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            store.Record(Node("productpage-v1"), [Stats(ReviewsV1, 18, 0, ("latency_ms_le_5", 9, 20), ("latency_ms_le_10", 9, 70)), Stats(ReviewsV3, 2, 0)]);
            tracker.Sample();
        }

        var snapshot = Build(mesh, tracker, store);

        Assert.Equal(7, snapshot["version"]!.GetValue<long>());
        var ns = Assert.Single(snapshot["namespaces"]!.AsArray())!;
        Assert.Equal("default", ns["name"]!.GetValue<string>());
        var services = ns["services"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["productpage", "ratings", "reviews"], services);
        var reviews = ns["services"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "reviews")!;
        Assert.Equal(["default/reviews-v1", "default/reviews-v2", "default/reviews-v3"], reviews["workloads"]!.AsArray().Select(w => w!["id"]!.GetValue<string>()));
        Assert.Equal("HEALTHY", reviews["workloads"]![0]!["endpoints"]![0]!["health"]!.GetValue<string>());
        Assert.Equal([90d, 10d], reviews["virtualService"]!["rules"]![0]!["destinations"]!.AsArray().Select(d => d!["percent"]!.GetValue<double>()));
        Assert.Contains("DestinationRule default/reviews", reviews["destinationRule"]!["declaredBy"]!.GetValue<string>(), StringComparison.Ordinal);

        var v1 = Edge(snapshot, "default/productpage-v1>reviews.default.svc.cluster.local:9080/v1");
        var v3 = Edge(snapshot, "default/productpage-v1>reviews.default.svc.cluster.local:9080/v3");
        Assert.Equal("default/productpage-v1", v1["source"]!.GetValue<string>());
        Assert.Equal("default/reviews-v1", v1["target"]!.GetValue<string>());
        Assert.Equal("default/reviews-v3", v3["target"]!.GetValue<string>());
        Assert.Equal(18d, v1["rps"]!.GetValue<double>(), 3);
        Assert.Equal(2d, v3["rps"]!.GetValue<double>(), 3);
        Assert.Equal(0.9, v1["share"]!.GetValue<double>(), 3);
        Assert.Equal(0.1, v3["share"]!.GetValue<double>(), 3);
        Assert.Equal(90d, v1["weight"]!.GetValue<double>());
        Assert.Equal(10d, v3["weight"]!.GetValue<double>());
        Assert.Equal(0d, v1["errorRate"]!.GetValue<double>());
        Assert.Equal("healthy", v1["health"]!.GetValue<string>());
        Assert.False(v1["mtls"]!.GetValue<bool>());

        // Half the window's requests under 5 ms, half in (5, 10]: the median is 5 ms, p99 near 10 ms; no metric, no latency.
        Assert.Equal(5d, v1["p50Ms"]!.GetValue<double>(), 3);
        Assert.Equal(9.9, v1["p99Ms"]!.GetValue<double>(), 3);
        Assert.Null(v3["p50Ms"]);
        Assert.Null(v3["p99Ms"]);
    }

    [Fact]
    public void Build_HalfTheCallsFail_EdgeFailingWithErrorRateOneHalf()
    {
        var mesh = Model(Services);
        var store = Store();
        var tracker = new EdgeRateTracker(store, _time);
        store.Record(Node("reviews-v2"), [Stats(Ratings, 0, 0)]);
        tracker.Sample();
        _time.Advance(TimeSpan.FromSeconds(1));
        store.Record(Node("reviews-v2"), [Stats(Ratings, 10, 10)]);

        var edge = Edge(Build(mesh, tracker, store), "default/reviews-v2>ratings.default.svc.cluster.local:9080");

        Assert.Equal("default/ratings-v1", edge["target"]!.GetValue<string>());
        Assert.Equal(0.5, edge["errorRate"]!.GetValue<double>());
        Assert.Equal("failing", edge["health"]!.GetValue<string>());
        Assert.Null(edge["subset"]);
    }

    [Fact]
    public void Build_FewErrors_EdgeDegraded()
    {
        var mesh = Model(Services);
        var store = Store();
        var tracker = new EdgeRateTracker(store, _time);
        store.Record(Node("reviews-v2"), [Stats(Ratings, 0, 0)]);
        tracker.Sample();
        _time.Advance(TimeSpan.FromSeconds(1));
        store.Record(Node("reviews-v2"), [Stats(Ratings, 95, 5)]);

        var edge = Edge(Build(mesh, tracker, store), "default/reviews-v2>ratings.default.svc.cluster.local:9080");

        Assert.Equal(0.05, edge["errorRate"]!.GetValue<double>(), 4);
        Assert.Equal("degraded", edge["health"]!.GetValue<string>());
    }

    [Fact]
    public void Build_StrictPeerAuthentication_EdgesLockedAndPoliciesListedPerService()
    {
        var store = Store();
        var tracker = new EdgeRateTracker(store, _time);
        store.Record(Node("productpage-v1"), [Stats(ReviewsV1, 3, 0)]);

        var plain = Build(Model(Services), tracker, store);
        Assert.False(Edge(plain, "default/productpage-v1>reviews.default.svc.cluster.local:9080/v1")["mtls"]!.GetValue<bool>());

        var strict = Build(Model(Services + "\n" + Strict), tracker, store);
        Assert.True(Edge(strict, "default/productpage-v1>reviews.default.svc.cluster.local:9080/v1")["mtls"]!.GetValue<bool>());
        var reviews = strict["namespaces"]![0]!["services"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "reviews")!;
        Assert.Equal("STRICT", reviews["mtlsMode"]!.GetValue<string>());
        var peer = Assert.Single(reviews["peerAuthentications"]!.AsArray())!;
        Assert.Equal("default/default", peer["name"]!.GetValue<string>());
        Assert.Equal("namespace", peer["scope"]!.GetValue<string>());
        var authz = Assert.Single(reviews["authorizationPolicies"]!.AsArray())!;
        Assert.Equal("default/reviews-from-productpage", authz["name"]!.GetValue<string>());
        Assert.Equal("ALLOW", authz["action"]!.GetValue<string>());
        var ratings = strict["namespaces"]![0]!["services"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "ratings")!;
        Assert.Empty(ratings["authorizationPolicies"]!.AsArray());
    }

    [Fact]
    public void Build_RejectedConfiguration_ErrorsNameFileResourceAndField()
    {
        var store = Store();
        var errors = new[] { new ConfigError("bad.yaml:4", "VirtualService default/reviews", "spec.http[0].route[0].weight", "must be between 0 and 100") };

        var snapshot = Build(Model(Services), new EdgeRateTracker(store, _time), store, errors);

        var error = Assert.Single(snapshot["errors"]!.AsArray())!;
        Assert.Equal("bad.yaml:4", error["origin"]!.GetValue<string>());
        Assert.Equal("VirtualService default/reviews", error["resource"]!.GetValue<string>());
        Assert.Equal("spec.http[0].route[0].weight", error["field"]!.GetValue<string>());
        Assert.Equal("must be between 0 and 100", error["message"]!.GetValue<string>());
    }

    [Fact]
    public void Build_EdgeIdleLongerThanRetention_LeftOutAndUnknownSourceIsALoneWorkload()
    {
        var mesh = Model(Services);
        var store = Store();
        var tracker = new EdgeRateTracker(store, _time);
        store.Record(Node("loadgen"), [Stats(ReviewsV1, 0, 0)]);
        tracker.Sample();
        _time.Advance(TimeSpan.FromSeconds(1));
        store.Record(Node("loadgen"), [Stats(ReviewsV1, 4, 0)]);

        var busy = Build(mesh, tracker, store);
        Assert.Single(busy["edges"]!.AsArray());
        var lone = Assert.Single(busy["namespaces"]![0]!["workloads"]!.AsArray())!;
        Assert.Equal("default/loadgen", lone["id"]!.GetValue<string>());

        // Reports keep coming, with nothing in them: idle (grey) for a while, then off the graph.
        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            store.Record(Node("loadgen"), [Stats(ReviewsV1, 0, 0)]);
            tracker.Sample();
        }

        Assert.Equal("idle", Edge(Build(mesh, tracker, store), "default/loadgen>reviews.default.svc.cluster.local:9080/v1")["health"]!.GetValue<string>());
        _time.Advance(DashboardLimits.IdleEdgeRetention);
        store.Record(Node("loadgen"), [Stats(ReviewsV1, 0, 0)]);
        Assert.Empty(Build(mesh, tracker, store)["edges"]!.AsArray());
    }

    [Fact]
    public void Build_Clients_ConnectionAckedVersionsAndLastNack()
    {
        var store = Store();
        var now = _time.GetUtcNow();
        var clients = new[]
        {
            new DashboardClient("productpage-v1.default", "default", "productpage-v1", "sotw", "ipv4:127.0.0.1:1", now, null,
            [
                new XdsTypeStatus(Mesh.Xds.XdsTypeUrls.Listener, "7", "n2", "7", null, ["*"], new Dictionary<string, string> { ["a"] = "7" }),
                new XdsTypeStatus(Mesh.Xds.XdsTypeUrls.RouteConfiguration, "8", "n3", "6", new XdsNack("n3", "6", "route: weights sum to 0", now), ["r"], new Dictionary<string, string>()),
            ]),
            new DashboardClient("details-v1.default", "default", "details-v1", "sotw", "ipv4:127.0.0.1:2", now, now, []),
        };

        var snapshot = Build(Model(Services), new EdgeRateTracker(store, _time), store, clients: clients);

        var productpage = snapshot["clients"]![0]!;
        Assert.True(productpage["connected"]!.GetValue<bool>());
        Assert.Equal(["LDS:ACKED:7", "RDS:NACKED:6"], productpage["types"]!.AsArray().Select(t =>
            t!["type"]!.GetValue<string>() + ":" + t["status"]!.GetValue<string>() + ":" + t["ackedVersion"]!.GetValue<string>()));
        Assert.Equal("route: weights sum to 0", productpage["lastNack"]!["message"]!.GetValue<string>());
        Assert.False(snapshot["clients"]![1]!["connected"]!.GetValue<bool>());
        var workload = snapshot["namespaces"]![0]!["services"]!.AsArray()
            .Single(s => s!["name"]!.GetValue<string>() == "productpage")!["workloads"]![0]!;
        Assert.True(workload["connected"]!.GetValue<bool>());
    }
}
