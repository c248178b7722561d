using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Model;

/// <summary>Redirect, directResponse, rewrite, headers, mirrors and delegation: what they build, and the inputs they reject.</summary>
public class RouteActionsBuildTests
{
    private const string Host = "reviews.default.svc.cluster.local";

    private static MeshBuildResult Build(params string[] documents)
    {
        var read = YamlResourceReader.Read(string.Join("\n---\n", [TestYaml.ReviewsServiceEntry, TestYaml.ReviewsDestinationRule, .. documents]), "in.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    private static ConfigError SingleError(params string[] documents)
    {
        var result = Build(documents);
        Assert.Null(result.Snapshot);
        return Assert.Single(result.Errors);
    }

    private static string Root(string rule) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http:
          - {{{rule}}}
          - route: [{destination: {host: reviews, subset: v1}}]
        """;

    private static string Delegate(string name, string rules) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: {{{name}}}}
        spec:
          http:
          {{{rules}}}
        """;

    [Fact]
    public void Build_RedirectRule_IsKeptInPlaceInsteadOfBeingSkipped()
    {
        var rules = Build(Root("{match: [{uri: {prefix: /old}}], redirect: {uri: /new}}")).Snapshot!.Routes[Host].Rules;

        Assert.Equal(2, rules.Length);
        Assert.Equal("/new", rules[0].Redirect!.Uri);
        Assert.Equal(301, rules[0].Redirect!.Code);
        Assert.Empty(rules[0].Destinations);
    }

    [Fact]
    public void Build_DirectResponseWithBytesBody_DecodesTheBody()
    {
        var rules = Build(Root("{match: [{uri: {exact: /x}}], directResponse: {status: 503, body: {bytes: aGVsbG8=}}}")).Snapshot!.Routes[Host].Rules;

        Assert.Equal(new DirectResponsePolicy(503, "hello"), rules[0].DirectResponse);
    }

    [Fact]
    public void Build_MirrorToUnknownHost_ErrorNamesMirrorHost()
    {
        var error = SingleError(Root("{mirror: {host: nosuch}, route: [{destination: {host: reviews, subset: v1}}]}"));

        Assert.Equal("spec.http[0].mirror.host", error.Field);
        Assert.Contains("IST0101", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_MirrorWithoutPercentage_MirrorsEveryRequest()
    {
        var rule = Build(Root("{mirror: {host: reviews, subset: v2}, route: [{destination: {host: reviews, subset: v1}}]}")).Snapshot!.Routes[Host].Rules[0];

        var mirror = Assert.Single(rule.Mirrors);
        Assert.Equal(("v2", 100d), (mirror.Destination.Subset, mirror.Percent));
    }

    [Fact]
    public void Build_DelegateCycle_ErrorNamesTheCycle()
    {
        var root = Root("{match: [{uri: {prefix: /a}}], delegate: {name: child}}");
        var error = SingleError(root, Delegate("child", "- delegate: {name: reviews}"));

        Assert.Equal("VirtualService default/child", error.Resource);
        Assert.Equal("spec.http[0].delegate", error.Field);
        Assert.Contains("delegation cycle", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_RewriteOnDelegatingRoute_ErrorNamesRewrite()
    {
        var root = Root("{match: [{uri: {prefix: /a}}], rewrite: {uri: /b}, delegate: {name: child}}");
        var error = SingleError(root, Delegate("child", "- route: [{destination: {host: reviews, subset: v2}}]"));

        Assert.Equal("spec.http[0].rewrite", error.Field);
        Assert.Contains("delegating route", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DelegateToMissingVirtualService_ErrorNamesDelegate()
    {
        var error = SingleError(Root("{delegate: {name: nosuch}}"));

        Assert.Equal("spec.http[0].delegate", error.Field);
        Assert.Contains("IST0101", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_Delegate_ChildRulesNarrowedByTheRootMatchAndConflictsLeftOut()
    {
        var root = Root("{match: [{uri: {prefix: /shop}}], delegate: {name: child}}");
        var child = Delegate("child", "- {name: cart, match: [{uri: {prefix: /shop/cart}}, {uri: {prefix: /other}}], route: [{destination: {host: reviews, subset: v2}}]}\n  - {name: outside, match: [{uri: {prefix: /other}}], route: [{destination: {host: reviews, subset: v2}}]}\n  - {name: shop-rest, route: [{destination: {host: reviews, subset: v1}}]}");

        var rules = Build(root, child).Snapshot!.Routes[Host].Rules;

        // 'outside' can never hold under /shop, so it is left out rather than widened; the root's last rule follows.
        Assert.Equal(["cart", "shop-rest", null], rules.Select(r => r.Name));
        Assert.Equal("/shop/cart", Assert.Single(rules[0].Matches).Uri!.Value);
        Assert.Equal("/shop", Assert.Single(rules[1].Matches).Uri!.Value);
    }

    [Fact]
    public void Build_VirtualServiceWithoutHostsThatNothingDelegatesTo_IsStillAnError()
    {
        var error = SingleError(Delegate("lonely", "- route: [{destination: {host: reviews, subset: v2}}]"));

        Assert.Equal("spec.hosts", error.Field);
    }

    [Fact]
    public void Build_RedirectAndRoute_ErrorNamesRule()
    {
        var error = SingleError(Root("{redirect: {uri: /x}, route: [{destination: {host: reviews, subset: v1}}]}"));

        Assert.Equal("spec.http[0]", error.Field);
    }
}
