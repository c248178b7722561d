using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Model;

public class MeshModelBuilderTests
{
    private static MeshBuildResult Build(params (string File, string Yaml)[] files)
    {
        var resources = new List<ConfigResource>();
        var errors = new List<ConfigError>();
        foreach (var (file, yaml) in files)
        {
            var set = YamlResourceReader.Read(yaml, file, "default");
            resources.AddRange(set.Resources);
            errors.AddRange(set.Errors);
        }

        Assert.Empty(errors);
        return MeshModelBuilder.Build(resources, version: 1);
    }

    private static ConfigError SingleError(MeshBuildResult result)
    {
        Assert.Null(result.Snapshot);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Build_ValidReviewsConfig_ProducesServiceSubsetsAndSplit()
    {
        var result = Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", TestYaml.ReviewsSplit(80, 20)));

        Assert.Empty(result.Errors);
        var snapshot = Assert.IsType<MeshSnapshot>(result.Snapshot);
        var service = snapshot.Services["reviews.default.svc.cluster.local"];
        Assert.Equal(2, service.Endpoints.Length);
        Assert.Equal(20001, service.Endpoints[0].Ports[9080]);
        Assert.Equal(new Locality("us-east", "zone-a", ""), service.Endpoints[0].Locality);
        Assert.Equal(["v1", "v2"], snapshot.Policies[service.Host].Subsets.Select(s => s.Name));
        var rule = Assert.Single(snapshot.Routes[service.Host].Rules);
        Assert.Equal([80, 20], rule.Destinations.Select(d => d.Weight));
    }

    [Fact]
    public void Read_MalformedYaml_ErrorNamesFileAndLine()
    {
        var set = YamlResourceReader.Read("apiVersion: v1\nkind: Service\nmetadata: {name: x\n  bad: [", "broken.yaml", "default");

        var error = Assert.Single(set.Errors);
        Assert.StartsWith("broken.yaml:", error.Origin, StringComparison.Ordinal);
        Assert.Contains("malformed YAML", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_UnknownKind_ErrorNamesFileResourceAndKind()
    {
        var error = SingleError(Build(("odd.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualMachine\nmetadata: {name: vm1}\nspec: {}\n")));

        Assert.Equal("odd.yaml:1", error.Origin);
        Assert.Equal("VirtualMachine default/vm1", error.Resource);
        Assert.Equal("kind", error.Field);
        Assert.Contains("unknown kind 'VirtualMachine'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_VirtualServiceNamingUnknownSubset_ErrorNamesDestinationField()
    {
        var vs = TestYaml.ReviewsSplit(80, 20).Replace("subset: v2", "subset: v9", StringComparison.Ordinal);
        var error = SingleError(Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", vs)));

        Assert.Equal("vs.yaml:1", error.Origin);
        Assert.Equal("VirtualService default/reviews", error.Resource);
        Assert.Equal("spec.http[0].route[1].destination.subset", error.Field);
        Assert.Contains("unknown subset 'v9'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_VirtualServiceNamingUnknownHost_ErrorNamesHostField()
    {
        var vs = TestYaml.ReviewsSplit(80, 20).Replace("hosts: [reviews]", "hosts: [nosuch]", StringComparison.Ordinal);
        var error = SingleError(Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", vs)));

        Assert.Equal("spec.hosts[0]", error.Field);
        Assert.Contains("unknown host 'nosuch'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_WeightsNotSummingTo100_AreRelativeAsInIstio()
    {
        var result = Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", TestYaml.ReviewsSplit(70, 20)));

        Assert.Empty(result.Errors);
        var rule = Assert.Single(result.Snapshot!.Routes["reviews.default.svc.cluster.local"].Rules);
        Assert.Equal([70, 20], rule.Destinations.Select(d => d.Weight));
    }

    [Fact]
    public void Build_WeightsSummingToZero_ErrorNamesRoute()
    {
        var error = SingleError(Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", TestYaml.ReviewsSplit(0, 0))));

        Assert.Equal("VirtualService default/reviews", error.Resource);
        Assert.Equal("spec.http[0].route", error.Field);
        Assert.Contains("sum to 0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DuplicateResourceNames_ErrorNamesBothFiles()
    {
        var error = SingleError(Build(("a.yaml", TestYaml.ReviewsServiceEntry), ("b.yaml", TestYaml.ReviewsServiceEntry)));

        Assert.Equal("b.yaml:1", error.Origin);
        Assert.Equal("ServiceEntry default/reviews", error.Resource);
        Assert.Contains("also defined at a.yaml:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_UnknownField_ErrorNamesField()
    {
        var dr = TestYaml.ReviewsDestinationRule.Replace("subsets:", "subsetz:", StringComparison.Ordinal);
        var error = SingleError(Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", dr)));

        Assert.Equal("DestinationRule default/reviews", error.Resource);
        Assert.Equal("unknown field 'subsetz'", error.Message);
    }

    [Fact]
    public void Build_WrongValueType_ErrorNamesFieldAndExpectedType()
    {
        var vs = TestYaml.ReviewsSplit(80, 20).Replace("weight: 80", "weight: eighty", StringComparison.Ordinal);
        var error = SingleError(Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("dr.yaml", TestYaml.ReviewsDestinationRule), ("vs.yaml", vs)));

        Assert.Equal("spec.http[0].route[0].weight", error.Field);
        Assert.Equal("has the wrong type: expected a whole number", error.Message);
    }

    [Fact]
    public void Build_SeveralProblems_ReportsEveryOne()
    {
        var vs = TestYaml.ReviewsSplit(-5, 20).Replace("subset: v2", "subset: v9", StringComparison.Ordinal);
        var result = Build(
            ("se.yaml", TestYaml.ReviewsServiceEntry),
            ("dr.yaml", TestYaml.ReviewsDestinationRule),
            ("vs.yaml", vs),
            ("odd.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"));

        Assert.Null(result.Snapshot);
        Assert.Equal(3, result.Errors.Count);
        Assert.Contains(result.Errors, e => e.Field == "kind");
        Assert.Contains(result.Errors, e => e.Field == "spec.http[0].route[1].destination.subset");
        Assert.Contains(result.Errors, e => e.Field == "spec.http[0].route[0].weight");
    }

    [Fact]
    public void Build_KubernetesServiceAndEndpointSlice_JoinsPodLabelsAndHealth()
    {
        const string yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: ratings, namespace: shop}
            spec:
              ports: [{name: grpc, port: 9080, targetPort: 8080}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: ratings-abc
              namespace: shop
              labels: {kubernetes.io/service-name: ratings}
            addressType: IPv4
            ports: [{name: grpc, port: 8080}]
            endpoints:
            - addresses: [10.0.0.5]
              conditions: {ready: true}
              zone: zone-a
              targetRef: {kind: Pod, name: ratings-1}
            - addresses: [10.0.0.6]
              conditions: {ready: false}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: ratings-1, namespace: shop, labels: {app: ratings, version: v1}}
            spec: {serviceAccountName: bookinfo-ratings}
            """;
        var result = Build(("k8s.yaml", yaml));

        Assert.Empty(result.Errors);
        var service = result.Snapshot!.Services["ratings.shop.svc.cluster.local"];
        Assert.Equal(9080, Assert.Single(service.Ports).Number);
        Assert.Equal("GRPC", service.Ports[0].Protocol);
        var ready = service.Endpoints.Single(e => e.Address == "10.0.0.5");
        Assert.Equal(8080, ready.Ports[9080]);
        Assert.Equal("v1", ready.Labels["version"]);
        Assert.Equal("bookinfo-ratings", ready.ServiceAccount);
        Assert.Equal("zone-a", ready.Locality.Zone);
        Assert.Equal(EndpointHealth.Unhealthy, service.Endpoints.Single(e => e.Address == "10.0.0.6").Health);
    }

    [Fact]
    public void Build_UnsupportedIstioField_LoadsWithWarning()
    {
        const string vs = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews}
                corsPolicy: {allowOrigins: [{exact: "*"}]}
            """;
        var result = Build(("se.yaml", TestYaml.ReviewsServiceEntry), ("vs.yaml", vs));

        Assert.NotNull(result.Snapshot);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal("spec.http[0].corsPolicy", warning.Field);
    }
}
