using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.ControlPlane.Translation.Sidecar;
using Mesh.Testing.Sidecar;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Sidecar;

/// <summary>
/// Bookinfo as Envoy sidecars see it: the four services on port 9080 (productpage HTTP, the rest gRPC) with one pod
/// per version, the sample's DestinationRules, and one of the sample's scenarios from samples/bookinfo/scenarios.
/// </summary>
internal static class SidecarBookinfo
{
    public const string ProductpageIp = "10.1.0.10";
    public const string DetailsIp = "10.1.0.20";
    public const string ReviewsV1Ip = "10.1.0.31";
    public const string ReviewsV2Ip = "10.1.0.32";
    public const string ReviewsV3Ip = "10.1.0.33";
    public const string RatingsIp = "10.1.0.40";

    public static readonly string[] Scenarios = ["all-v1", "jason-v2", "canary-v3", "ratings-delay", "ratings-abort", "mtls-strict"];

    public static readonly (string Name, string Ip, Dictionary<string, string> Labels)[] Workloads =
    [
        ("productpage-v1", ProductpageIp, new() { ["app"] = "productpage", ["version"] = "v1" }),
        ("details-v1", DetailsIp, new() { ["app"] = "details", ["version"] = "v1" }),
        ("reviews-v1", ReviewsV1Ip, new() { ["app"] = "reviews", ["version"] = "v1" }),
        ("reviews-v2", ReviewsV2Ip, new() { ["app"] = "reviews", ["version"] = "v2" }),
        ("reviews-v3", ReviewsV3Ip, new() { ["app"] = "reviews", ["version"] = "v3" }),
        ("ratings-v1", RatingsIp, new() { ["app"] = "ratings", ["version"] = "v1" }),
    ];

    public const string Services = $$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: productpage, namespace: default}
        spec:
          hosts: [productpage.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP}]
          endpoints:
          - {address: {{ProductpageIp}}, ports: {http: 9080}, labels: {app: productpage, version: v1}, serviceAccount: bookinfo-productpage}
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: details, namespace: default}
        spec:
          hosts: [details.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          endpoints:
          - {address: {{DetailsIp}}, ports: {grpc: 9080}, labels: {app: details, version: v1}, serviceAccount: bookinfo-details}
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
          - {address: {{ReviewsV1Ip}}, ports: {grpc: 9080}, labels: {app: reviews, version: v1}, serviceAccount: bookinfo-reviews}
          - {address: {{ReviewsV2Ip}}, ports: {grpc: 9080}, labels: {app: reviews, version: v2}, serviceAccount: bookinfo-reviews}
          - {address: {{ReviewsV3Ip}}, ports: {grpc: 9080}, labels: {app: reviews, version: v3}, serviceAccount: bookinfo-reviews}
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
          - {address: {{RatingsIp}}, ports: {grpc: 9080}, labels: {app: ratings, version: v1}, serviceAccount: bookinfo-ratings}
        """;

    public static MeshSnapshot Snapshot(string? scenario, params string[] extra)
    {
        var documents = new List<string> { Services, File.ReadAllText(Path.Combine(RepositoryPaths.Root, "samples", "bookinfo", "config", "destination-rules.yaml")) };
        if (scenario is not null)
        {
            documents.Add(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "samples", "bookinfo", "scenarios", scenario + ".yaml")));
        }

        documents.AddRange(extra);
        var read = YamlResourceReader.Read(string.Join("\n---\n", documents), "bookinfo.yaml", "default");
        Assert.Empty(read.Errors);
        var built = MeshModelBuilder.Build(read.Resources, version: 1);
        Assert.Empty(built.Errors);
        return built.Snapshot!;
    }

    public static Node SidecarNode(string ip, string pod, string ns = "default", IReadOnlyDictionary<string, string>? labels = null)
    {
        var node = new Node { Id = $"sidecar~{ip}~{pod}.{ns}~{ns}.svc.cluster.local", Metadata = new Struct() };
        node.Metadata.Fields["NAMESPACE"] = Value.ForString(ns);
        if (labels is not null)
        {
            var map = new Struct();
            foreach (var (key, value) in labels)
            {
                map.Fields[key] = Value.ForString(value);
            }

            node.Metadata.Fields["LABELS"] = Value.ForStruct(map);
        }

        return node;
    }

    public static XdsResourceSet For(MeshSnapshot snapshot, Node node, OutboundTrafficMode mode = OutboundTrafficMode.AllowAny) =>
        MeshTranslator.Translate(snapshot, outboundTrafficMode: mode).ForClient(node, ClientWorkload.FromNode(node, XdsConnectionNamespace(node)));

    public static XdsResourceSet Productpage(string? scenario, OutboundTrafficMode mode = OutboundTrafficMode.AllowAny, params string[] extra) =>
        For(Snapshot(scenario, extra), SidecarNode(ProductpageIp, "productpage-v1-abc", labels: Workloads[0].Labels), mode);

    public static EnvoySimulator Simulator(XdsResourceSet set) => new(Of<Listener>(set, XdsTypeUrls.Listener), Of<RouteConfiguration>(set, XdsTypeUrls.RouteConfiguration), Of<Cluster>(set, XdsTypeUrls.Cluster), Of<ClusterLoadAssignment>(set, XdsTypeUrls.ClusterLoadAssignment));

    public static List<T> Of<T>(XdsResourceSet set, string typeUrl) => [.. set.Of(typeUrl).Values.OrderBy(static r => r.Name, StringComparer.Ordinal).Select(static r => (T)r.Message)];

    private static string XdsConnectionNamespace(Node node) => node.Metadata.Fields.TryGetValue("NAMESPACE", out var ns) ? ns.StringValue : "default";
}
