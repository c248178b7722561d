using Envoy.Config.Route.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.Testing;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Translation;

/// <summary>Over a real ADS stream: the route configuration a client receives follows its own labels and namespace.</summary>
public class SourceMatchAdsTests
{
    private const string RouteName = "reviews.default.svc.cluster.local:9080";

    private const string SourceRules = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http:
          - name: from-productpage
            match: [{sourceLabels: {app: productpage}}]
            route: [{destination: {host: reviews, subset: v2}}]
          - name: from-frontend
            match: [{sourceNamespace: frontend}]
            route: [{destination: {host: reviews, subset: v2}}]
          - name: rest
            route: [{destination: {host: reviews, subset: v1}}]
        """;

    private static async Task<string[]> RoutesForAsync(TestControlPlane cp, string ns, string? app)
    {
        await using var client = new AdsTestClient(cp.XdsAddress, nodeId: $"node-{ns}-{app}", @namespace: ns);
        if (app is not null)
        {
            client.Node.Metadata.Fields["LABELS"] = Value.ForStruct(new Struct { Fields = { ["app"] = Value.ForString(app) } });
        }

        await client.SendAsync(XdsTypeUrls.RouteConfiguration, [RouteName]);
        var response = await client.ReceiveAsync(XdsTypeUrls.RouteConfiguration);
        var config = Assert.Single(response.Resources).Unpack<RouteConfiguration>();
        return [.. config.VirtualHosts[0].Routes.Select(r => r.Name)];
    }

    [Fact]
    public async Task Rds_SourceLabelsAndNamespace_EachClientReceivesOnlyTheRulesItsSourceMeets()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = TestYaml.ReviewsServiceEntry,
            ["dr.yaml"] = TestYaml.ReviewsDestinationRule,
            ["vs.yaml"] = SourceRules,
        });

        Assert.Equal(["from-productpage", "rest"], await RoutesForAsync(cp, "default", "productpage"));
        Assert.Equal(["rest"], await RoutesForAsync(cp, "default", "ratings"));
        Assert.Equal(["from-frontend", "rest"], await RoutesForAsync(cp, "frontend", null));
        Assert.Equal(["rest"], await RoutesForAsync(cp, "default", null));
    }
}
