using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Model;

public class ResourceKindsTests
{
    /// <summary>
    /// One resource of every kind of Istio's networking, security and telemetry APIs and of the Gateway API that Mesh does
    /// not apply, and an Istio Gateway, which it does (for gateway workloads).
    /// </summary>
    private const string NotAppliedKinds = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: ingress}
        spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
        ---
        apiVersion: networking.istio.io/v1
        kind: EnvoyFilter
        metadata: {name: lua}
        spec: {configPatches: []}
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: ProxyConfig
        metadata: {name: concurrency}
        spec: {concurrency: 2}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadGroup
        metadata: {name: vms}
        spec: {metadata: {labels: {app: vm}}, template: {serviceAccount: vm}}
        ---
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: jwt}
        spec: {jwtRules: [{issuer: "https://issuer.example"}]}
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: tracing}
        spec: {tracing: [{randomSamplingPercentage: 10, customTags: {team: {literal: {value: books}}}}], accessLogging: [{providers: [{name: envoy}]}]}
        """;

    /// <summary>One resource of each Gateway API kind Mesh converts (GatewayApi/), and so applies.</summary>
    private const string GatewayApiKinds = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: istio}
        spec: {controllerName: istio.io/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: ingress}
        spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: reviews}
        spec: {parentRefs: [{name: ingress}], rules: [{backendRefs: [{name: reviews, port: 9080}]}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: ratings}
        spec: {parentRefs: [{name: ingress}], rules: [{backendRefs: [{name: ratings, port: 9080}]}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: allow}
        spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}], to: [{group: "", kind: Service}]}
        """;

    [Fact]
    public void Build_EveryNotAppliedKind_LoadsAndIsReportedWithItsReason()
    {
        var read = YamlResourceReader.Read(NotAppliedKinds + "\n---\n" + TestYaml.ReviewsServiceEntry, "kinds.yaml", "default");
        Assert.Empty(read.Errors);

        var result = MeshModelBuilder.Build(read.Resources, version: 1);

        Assert.Empty(result.Errors);
        var snapshot = Assert.IsType<MeshSnapshot>(result.Snapshot);
        Assert.Single(snapshot.Services);
        string[] expected =
        [
            "EnvoyFilter default/lua", "ProxyConfig default/concurrency", "WorkloadGroup default/vms",
            "RequestAuthentication default/jwt",
            "Telemetry default/tracing", "Telemetry default/tracing", // its sampling applies; accessLogging and customTags do not
        ];
        Assert.Equal(expected, snapshot.NotApplied.Select(n => n.Resource));
        Assert.All(snapshot.NotApplied, n => Assert.StartsWith(MeshModelBuilder.NotAppliedPrefix, n.Message, StringComparison.Ordinal));
        Assert.All(snapshot.NotApplied, n => Assert.True(n.Message.Length > MeshModelBuilder.NotAppliedPrefix.Length + 20, n.Message));
        Assert.All(snapshot.NotApplied, n => Assert.Contains(n, result.Warnings));
        Assert.Equal("default/ingress", Assert.Single(snapshot.Gateways).Key); // the Istio Gateway is applied
    }

    [Fact]
    public void Build_KindInNoKnownApi_IsStillAnError()
    {
        var read = YamlResourceReader.Read("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n", "w.yaml", "default");

        var result = MeshModelBuilder.Build(read.Resources, version: 1);

        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.Equal("kind", error.Field);
        Assert.Contains("unknown kind 'Widget'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_KnownKindUnderWrongApiVersion_ErrorListsTheApiVersionsOfBothGateways()
    {
        var read = YamlResourceReader.Read("apiVersion: networking.istio.io/v9\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n", "g.yaml", "default");

        var error = Assert.Single(MeshModelBuilder.Build(read.Resources, version: 1).Errors);

        Assert.Equal("apiVersion", error.Field);
        Assert.Contains("networking.istio.io/v1", error.Message, StringComparison.Ordinal);
        Assert.Contains("gateway.networking.k8s.io/v1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_IstioGatewayAndGatewayApiGatewayOfOneName_AreNotDuplicates()
    {
        var read = YamlResourceReader.Read(NotAppliedKinds + "\n---\n" + GatewayApiKinds, "kinds.yaml", "default");

        Assert.Empty(MeshModelBuilder.Build(read.Resources, version: 1).Errors);
    }
}
