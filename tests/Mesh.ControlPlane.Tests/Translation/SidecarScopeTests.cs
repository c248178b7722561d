using System.Collections.Immutable;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Translation;

/// <summary>A Sidecar's egress hosts scope what each client is sent; a malformed one is an error.</summary>
public class SidecarScopeTests
{
    private const string Services = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: shop}
        spec:
          hosts: [reviews.shop.svc.cluster.local]
          resolution: STATIC
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          endpoints: [{address: 10.0.0.1}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ratings, namespace: other}
        spec:
          hosts: [ratings.other.svc.cluster.local]
          resolution: STATIC
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          endpoints: [{address: 10.0.0.2}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: telemetry, namespace: istio-system}
        spec:
          hosts: [telemetry.istio-system.svc.cluster.local]
          resolution: STATIC
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          endpoints: [{address: 10.0.0.3}]
        """;

    private static string Sidecar(string hosts, string ns = "shop", string selector = "") => $$"""
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: scope, namespace: {{ns}}}
        spec:
          {{selector}}
          egress:
          - hosts: {{hosts}}
        """;

    private static MeshBuildResult Build(params string[] documents)
    {
        var read = YamlResourceReader.Read(string.Join("\n---\n", [Services, .. documents]), "in.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    private static bool Sees(XdsResourceSet set, ClientWorkload client, string host) =>
        set.Find(XdsTypeUrls.Listener, host + ":9080", client) is not null
        && set.Find(XdsTypeUrls.RouteConfiguration, host + ":9080", client) is not null
        && set.Find(XdsTypeUrls.Cluster, $"outbound|9080||{host}", client) is not null
        && set.Find(XdsTypeUrls.ClusterLoadAssignment, $"outbound|9080||{host}", client) is not null;

    [Fact]
    public void Find_SidecarLimitingEgressToOwnNamespaceAndIstioSystem_ClientReceivesOnlyThose()
    {
        var set = MeshTranslator.Translate(Build(Sidecar("[./*, istio-system/*]")).Snapshot!);
        var shopClient = ClientWorkload.InNamespace("shop");

        Assert.True(Sees(set, shopClient, "reviews.shop.svc.cluster.local"));
        Assert.True(Sees(set, shopClient, "telemetry.istio-system.svc.cluster.local"));
        Assert.False(Sees(set, shopClient, "ratings.other.svc.cluster.local"));
        Assert.Null(set.Find(XdsTypeUrls.Listener, "ratings.other.svc.cluster.local", shopClient));

        // A client of another namespace, which no Sidecar scopes, still sees everything.
        Assert.True(Sees(set, ClientWorkload.InNamespace("other"), "reviews.shop.svc.cluster.local"));
    }

    [Fact]
    public void Find_ServedSetWithBothFlavours_KeepsTheSidecarScope()
    {
        // What the xDS server serves is MeshTranslator's set (proxyless plus the Envoy flavour); the scope must survive it.
        var set = MeshTranslator.Translate(Build(Sidecar("[./*, istio-system/*]")).Snapshot!);
        var shopClient = ClientWorkload.InNamespace("shop");

        Assert.True(Sees(set, shopClient, "reviews.shop.svc.cluster.local"));
        Assert.False(Sees(set, shopClient, "ratings.other.svc.cluster.local"));
        Assert.True(Sees(set, ClientWorkload.InNamespace("other"), "ratings.other.svc.cluster.local"));
    }

    [Fact]
    public void Find_SidecarWithSelector_ScopesOnlyTheSelectedWorkloads()
    {
        var set = MeshTranslator.Translate(Build(Sidecar("[./*]", selector: "workloadSelector: {labels: {app: cart}}")).Snapshot!);
        var cart = new ClientWorkload("shop", ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("app", "cart")]));

        Assert.False(Sees(set, cart, "ratings.other.svc.cluster.local"));
        Assert.True(Sees(set, ClientWorkload.InNamespace("shop"), "ratings.other.svc.cluster.local"));
    }

    [Fact]
    public void Find_RootNamespaceSidecar_IsTheMeshDefault()
    {
        var set = MeshTranslator.Translate(Build(Sidecar("[./*]", ns: "istio-system")).Snapshot!);

        Assert.False(Sees(set, ClientWorkload.InNamespace("other"), "reviews.shop.svc.cluster.local"));
        Assert.True(Sees(set, ClientWorkload.InNamespace("other"), "telemetry.istio-system.svc.cluster.local"));
    }

    [Theory]
    [InlineData("[reviews]", "not namespace/dnsName")]
    [InlineData("[\"shop/\"]", "not namespace/dnsName")]
    [InlineData("[\"shop/rev\u200Biews\"]", "U+200B")]
    [InlineData("[\"Bad_Ns/*\"]", "DNS-1123")]
    public void Build_SidecarWithMalformedHost_ErrorNamesTheHost(string hosts, string expected)
    {
        var result = Build(Sidecar(hosts));

        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.Equal("Sidecar shop/scope", error.Resource);
        Assert.Equal("spec.egress[0].hosts[0]", error.Field);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_ServiceEntryExportedToItsOwnNamespace_OtherNamespacesDoNotReceiveIt()
    {
        var services = Services.Replace("  hosts: [reviews.shop.svc.cluster.local]", "  hosts: [reviews.shop.svc.cluster.local]\n  exportTo: [.]", StringComparison.Ordinal);
        var read = YamlResourceReader.Read(services, "in.yaml", "default");
        var set = MeshTranslator.Translate(MeshModelBuilder.Build(read.Resources, version: 1).Snapshot!);

        Assert.True(Sees(set, ClientWorkload.InNamespace("shop"), "reviews.shop.svc.cluster.local"));
        Assert.False(Sees(set, ClientWorkload.InNamespace("other"), "reviews.shop.svc.cluster.local"));
        Assert.True(Sees(set, ClientWorkload.InNamespace("other"), "ratings.other.svc.cluster.local"));
    }

    [Fact]
    public void Build_ServiceEntryWithBadLocation_ErrorNamesLocation()
    {
        var read = YamlResourceReader.Read(Services.Replace("  resolution: STATIC\n  ports: [{number: 9080, name: grpc, protocol: GRPC}]\n  endpoints: [{address: 10.0.0.1}]", "  resolution: STATIC\n  location: OUTSIDE\n  ports: [{number: 9080, name: grpc, protocol: GRPC}]\n  endpoints: [{address: 10.0.0.1}]", StringComparison.Ordinal), "in.yaml", "default");

        var error = Assert.Single(MeshModelBuilder.Build(read.Resources, version: 1).Errors);

        Assert.Equal("spec.location", error.Field);
    }
}
