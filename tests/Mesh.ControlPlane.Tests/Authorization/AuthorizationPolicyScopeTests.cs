using Mesh.ControlPlane.Authorization;
using static Mesh.ControlPlane.Tests.Authorization.AuthzYaml;

namespace Mesh.ControlPlane.Tests.Authorization;

public class AuthorizationPolicyScopeTests
{
    private static readonly string Yaml = string.Join(
        "\n---\n",
        Policy("mesh-wide", "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/admin]}", "istio-system"),
        Policy("mesh-reviews", "  selector:\n    matchLabels: {app: reviews}\n  rules:\n  - {}", "istio-system"),
        Policy("ns-wide", "  rules:\n  - {}"),
        Policy("reviews-only", "  selector:\n    matchLabels: {app: reviews}\n  rules:\n  - {}"),
        Policy("reviews-v2", "  selector:\n    matchLabels: {app: reviews, version: v2}\n  rules:\n  - {}"),
        Policy("other-ns", "  rules:\n  - {}", "other"));

    private static string[] Names(string ns, Dictionary<string, string> labels, string root = AuthorizationPolicyScope.DefaultRootNamespace) =>
        [.. AuthorizationPolicyScope.ForWorkload(Snapshot(Yaml), ns, labels, root).Select(p => $"{p.Namespace}/{p.Name}")];

    [Fact]
    public void ForWorkload_SelectorSubsetOfLabels_Applies()
    {
        Assert.Equal(
            ["default/ns-wide", "default/reviews-only", "default/reviews-v2", "istio-system/mesh-reviews", "istio-system/mesh-wide"],
            Names("default", new() { ["app"] = "reviews", ["version"] = "v2", ["extra"] = "x" }));
    }

    [Fact]
    public void ForWorkload_SelectorNotMatching_DoesNotApply()
    {
        Assert.Equal(
            ["default/ns-wide", "default/reviews-only", "istio-system/mesh-reviews", "istio-system/mesh-wide"],
            Names("default", new() { ["app"] = "reviews", ["version"] = "v1" }));
        Assert.Equal(["default/ns-wide", "istio-system/mesh-wide"], Names("default", new() { ["app"] = "ratings" }));
    }

    [Fact]
    public void ForWorkload_OtherNamespace_GetsOnlyItsOwnAndRootPolicies()
    {
        Assert.Equal(["istio-system/mesh-wide", "other/other-ns"], Names("other", []));
        Assert.Equal(["istio-system/mesh-reviews", "istio-system/mesh-wide", "other/other-ns"], Names("other", new() { ["app"] = "reviews" }));
    }

    [Fact]
    public void ForWorkload_CustomRootNamespace_MakesThatNamespaceMeshWide()
    {
        Assert.Equal(["default/ns-wide", "other/other-ns"], Names("default", new() { ["app"] = "ratings" }, root: "other"));
        Assert.DoesNotContain("istio-system/mesh-wide", Names("default", [], root: "other"));
    }
}
