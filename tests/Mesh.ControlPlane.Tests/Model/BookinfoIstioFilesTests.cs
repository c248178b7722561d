using System.Runtime.CompilerServices;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Model;

/// <summary>
/// Istio's Bookinfo networking files (Model/testassets/bookinfo, written in our own words after the task pages):
/// the ingress Gateway, every DestinationRule set and each VirtualService file load together with a Telemetry and
/// a Sidecar, without an error, and translate.
/// </summary>
public class BookinfoIstioFilesTests
{
    public static TheoryData<string, string> Combinations()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in System.IO.Directory.GetFiles(AssetDirectory(), "virtual-service-*.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file), "destination-rule-all.yaml");
            data.Add(Path.GetFileName(file), "destination-rule-all-mtls.yaml");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void Build_BookinfoFilesWithGatewayTelemetryAndSidecar_LoadWithoutErrorAndTranslate(string virtualServices, string destinationRules)
    {
        var result = Load("services.yaml", "bookinfo-gateway.yaml", "telemetry.yaml", "sidecar.yaml", destinationRules, virtualServices);

        Assert.Empty(result.Errors);
        var snapshot = Assert.IsType<MeshSnapshot>(result.Snapshot);
        Assert.Equal("default/bookinfo-gateway", Assert.Single(snapshot.Gateways).Key);
        Assert.Contains(snapshot.GatewayRoutes, g => g.Name == "bookinfo" && g.Gateways.Contains("default/bookinfo-gateway"));
        Assert.Contains(snapshot.NotApplied, n => n.Resource == "Telemetry istio-system/mesh-default");
        Assert.NotEmpty(snapshot.Routes);

        var set = ProxylessTranslator.Translate(snapshot);
        Assert.NotNull(set.Find(XdsTypeUrls.RouteConfiguration, "reviews.default.svc.cluster.local:9080", "default"));
    }

    [Fact]
    public void Build_ReviewsTestV2_RoutesJasonToV2AndTheRestToV1()
    {
        var result = Load("services.yaml", "bookinfo-gateway.yaml", "destination-rule-all.yaml", "virtual-service-reviews-test-v2.yaml");

        var rules = result.Snapshot!.Routes["reviews.default.svc.cluster.local"].Rules;
        Assert.Equal(2, rules.Length);
        var header = Assert.Single(Assert.Single(rules[0].Matches).Headers);
        Assert.Equal(("end-user", "jason"), (header.Name, header.Condition!.Value));
        Assert.Equal("v2", Assert.Single(rules[0].Destinations).Subset);
        Assert.Equal("v1", Assert.Single(rules[1].Destinations).Subset);
    }

    [Fact]
    public void Build_TwoFilesDefiningTheSameVirtualService_IsStillAnError()
    {
        var result = Load("services.yaml", "destination-rule-all.yaml", "virtual-service-reviews-v3.yaml", "virtual-service-reviews-80-20.yaml");

        Assert.Null(result.Snapshot);
        Assert.Contains(result.Errors, e => e.Message.Contains("duplicate resource", StringComparison.Ordinal));
    }

    public static TheoryData<string> SampleScenarios()
    {
        var data = new TheoryData<string>();
        foreach (var file in System.IO.Directory.GetFiles(Path.Combine(RepositoryRoot(), "samples", "bookinfo", "scenarios"), "*.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SampleScenarios))]
    public void Build_SampleBookinfoConfigAndScenario_StillLoadsUnderIstioValidation(string scenario)
    {
        var resources = new List<ConfigResource>();
        foreach (var path in new[]
        {
            Path.Combine(AssetDirectory(), "services.yaml"),
            Path.Combine(RepositoryRoot(), "samples", "bookinfo", "config", "destination-rules.yaml"),
            Path.Combine(RepositoryRoot(), "samples", "bookinfo", "scenarios", scenario),
        })
        {
            var set = YamlResourceReader.Read(File.ReadAllText(path), Path.GetFileName(path), "default");
            Assert.Empty(set.Errors);
            resources.AddRange(set.Resources);
        }

        var result = MeshModelBuilder.Build(resources, version: 1);

        Assert.Empty(result.Errors);
    }

    private static MeshBuildResult Load(params string[] files)
    {
        var resources = new List<ConfigResource>();
        foreach (var file in files)
        {
            var set = YamlResourceReader.Read(File.ReadAllText(Path.Combine(AssetDirectory(), file)), file, "default");
            Assert.Empty(set.Errors);
            resources.AddRange(set.Resources);
        }

        return MeshModelBuilder.Build(resources, version: 1);
    }

    private static string RepositoryRoot([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", ".."));

    private static string AssetDirectory([CallerFilePath] string path = "") => Path.Combine(Path.GetDirectoryName(path)!, "testassets", "bookinfo");
}
