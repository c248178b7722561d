using System.Collections.Immutable;
using Envoy.Config.Core.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Tests.Sidecar;
using Mesh.ControlPlane.Translation;
using Mesh.Testing.Sidecar;

namespace Mesh.ControlPlane.Tests.Gateways;

/// <summary>Bookinfo behind an ingress Gateway, as the gateway tests read it.</summary>
internal static class GatewayTestConfig
{
    public const string GatewayIp = "10.1.0.90";

    public static readonly Dictionary<string, string> GatewayLabels = new() { ["istio"] = "ingressgateway", ["app"] = "istio-ingressgateway" };

    /// <summary>The Bookinfo Gateway and VirtualService of Istio's tasks, in our words.</summary>
    public static string BookinfoGateway => File.ReadAllText(Path.Combine(RepositoryPaths.Root, "samples", "bookinfo", "config", "bookinfo-gateway.yaml"));

    public const string HttpsGateway = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: secure}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8443, name: https, protocol: HTTPS}
            hosts: ["bookinfo.example.com"]
            tls: {mode: MUTUAL, serverCertificate: /etc/certs/server.pem, privateKey: /etc/certs/server.key, caCertificates: /etc/certs/ca.pem}
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["bookinfo.example.com"]
            tls: {httpsRedirect: true}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: secure-bookinfo}
        spec:
          hosts: [bookinfo.example.com]
          gateways: [secure]
          http:
          - match: [{uri: {prefix: /reviews/}}]
            rewrite: {uri: /}
            route:
            - destination: {host: reviews, subset: v1, port: {number: 9080}}
              weight: 90
            - destination: {host: reviews, subset: v2, port: {number: 9080}}
              weight: 10
          - route:
            - destination: {host: productpage, port: {number: 9080}}
        """;

    public static MeshBuildResult Build(params string[] documents)
    {
        var all = new List<string> { SidecarBookinfo.Services, File.ReadAllText(Path.Combine(RepositoryPaths.Root, "samples", "bookinfo", "config", "destination-rules.yaml")) };
        all.AddRange(documents);
        var read = YamlResourceReader.Read(string.Join("\n---\n", all), "gateway.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    public static MeshSnapshot Snapshot(params string[] documents)
    {
        var built = Build(documents);
        Assert.True(built.Errors.Count == 0, string.Join("\n", built.Errors));
        return built.Snapshot!;
    }

    /// <summary>An istio-ingressgateway Envoy's node: <c>router~ip~pod.ns~ns.svc.cluster.local</c>.</summary>
    public static Node RouterNode(IReadOnlyDictionary<string, string>? labels = null)
    {
        var node = new Node { Id = $"router~{GatewayIp}~istio-ingressgateway-abc.istio-system~istio-system.svc.cluster.local", Metadata = new Struct() };
        node.Metadata.Fields["NAMESPACE"] = Value.ForString("istio-system");
        var map = new Struct();
        foreach (var (key, value) in labels ?? GatewayLabels)
        {
            map.Fields[key] = Value.ForString(value);
        }

        node.Metadata.Fields["LABELS"] = Value.ForStruct(map);
        return node;
    }

    public static XdsResourceSet ForRouter(MeshSnapshot snapshot, IReadOnlyDictionary<string, string>? labels = null)
    {
        var node = RouterNode(labels);
        return MeshTranslator.Translate(snapshot).ForClient(node, ClientWorkload.FromNode(node, "istio-system"));
    }

    public static ClientWorkload MeshGatewayWorkload(IReadOnlyDictionary<string, string>? labels = null) =>
        new("istio-system", (labels ?? GatewayLabels).ToImmutableSortedDictionary(StringComparer.Ordinal, StringComparer.Ordinal));
}
