using Envoy.Config.Core.V3;
using Envoy.Config.Rbac.V3;
using Envoy.Type.Matcher.V3;
using Mesh.ControlPlane.Authorization;
using static Mesh.ControlPlane.Tests.Authorization.AuthzYaml;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;
using HeaderMatcher = Envoy.Config.Route.V3.HeaderMatcher;

namespace Mesh.ControlPlane.Tests.Authorization;

public class RbacFilterBuilderTests
{
    private static FilterRbac? Rbac(string yaml, AuthorizationAction action = AuthorizationAction.Allow, string trustDomain = "cluster.local") =>
        RbacFilterBuilder.BuildRbac(Snapshot(yaml).AuthorizationPolicies, action, trustDomain);

    /// <summary>The single RBAC policy built from a one-rule ALLOW policy named "p" in "default".</summary>
    private static Policy OnlyPolicy(string rule, string trustDomain = "cluster.local")
    {
        var rbac = Rbac(Policy("p", "  rules:\n" + rule), trustDomain: trustDomain)!;
        Assert.Equal(["ns[default]-policy[p]-rule[0]"], rbac.Rules.Policies.Keys);
        return rbac.Rules.Policies["ns[default]-policy[p]-rule[0]"];
    }

    private static Principal Authenticated(StringMatcher name) => new() { Authenticated = new Principal.Types.Authenticated { PrincipalName = name } };

    private static StringMatcher Regex(string pattern) => new() { SafeRegex = new RegexMatcher { GoogleRe2 = new(), Regex = pattern } };

    private static Permission Header(string name, StringMatcher match) => new() { Header = new HeaderMatcher { Name = name, StringMatch = match } };

    private static Permission Or(params Permission[] rules) => new() { OrRules = new Permission.Types.Set { Rules = { rules } } };

    private static Permission And(params Permission[] rules) => new() { AndRules = new Permission.Types.Set { Rules = { rules } } };

    private static Principal OrIds(params Principal[] ids) => new() { OrIds = new Principal.Types.Set { Ids = { ids } } };

    private static Principal AndIds(params Principal[] ids) => new() { AndIds = new Principal.Types.Set { Ids = { ids } } };

    [Fact]
    public void Build_NoPolicies_NoFilters()
    {
        Assert.Empty(RbacFilterBuilder.Build([], "cluster.local"));
    }

    [Fact]
    public void Build_DenyAndAllowPolicies_DenyFilterComesFirst()
    {
        var snapshot = Snapshot(Policy("allow", "  rules:\n  - {}") + "\n---\n" + Policy("deny", "  action: DENY\n  rules:\n  - {}"));

        var filters = RbacFilterBuilder.Build(snapshot.AuthorizationPolicies, "cluster.local");

        Assert.Equal([RbacFilterBuilder.DenyFilterName, RbacFilterBuilder.AllowFilterName], filters.Select(f => f.Name));
        Assert.Equal(RBAC.Types.Action.Deny, filters[0].TypedConfig.Unpack<FilterRbac>().Rules.Action);
        Assert.Equal(["ns[default]-policy[deny]-rule[0]"], filters[0].TypedConfig.Unpack<FilterRbac>().Rules.Policies.Keys);
        Assert.Equal(RBAC.Types.Action.Allow, filters[1].TypedConfig.Unpack<FilterRbac>().Rules.Action);
        Assert.Equal("type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC", filters[1].TypedConfig.TypeUrl);
    }

    [Fact]
    public void Build_OnlyDenyPolicies_NoAllowFilter()
    {
        var filters = RbacFilterBuilder.Build(Snapshot(Policy("deny", "  action: DENY\n  rules:\n  - {}")).AuthorizationPolicies, "cluster.local");

        Assert.Equal([RbacFilterBuilder.DenyFilterName], filters.Select(f => f.Name));
    }

    [Fact]
    public void Build_AllowPolicyWithoutRules_AllowFilterWithNoPoliciesDeniesAll()
    {
        var rbac = Rbac(Policy("allow-nothing", "  {}"));

        Assert.NotNull(rbac);
        Assert.Equal(RBAC.Types.Action.Allow, rbac.Rules.Action);
        Assert.Empty(rbac.Rules.Policies);
    }

    [Fact]
    public void Build_EmptyRule_MatchesEverything()
    {
        var policy = OnlyPolicy("  - {}");

        Assert.Equal(new Permission { Any = true }, Assert.Single(policy.Permissions));
        Assert.Equal(new Principal { Any = true }, Assert.Single(policy.Principals));
    }

    [Fact]
    public void Build_RulesOfSeveralPolicies_AreNamedLikeIstio()
    {
        var rbac = Rbac(Policy("a", "  rules:\n  - {}\n  - {}") + "\n---\n" + Policy("b", "  rules:\n  - {}", "other"));

        Assert.Equal(["ns[default]-policy[a]-rule[0]", "ns[default]-policy[a]-rule[1]", "ns[other]-policy[b]-rule[0]"], rbac!.Rules.Policies.Keys);
    }

    [Fact]
    public void Build_Principals_MatchTheSpiffeIdWithIstioWildcards()
    {
        var policy = OnlyPolicy("  - from:\n    - source: {principals: [cluster.local/ns/default/sa/productpage, \"other.td/ns/a/*\", \"*/sa/admin\", \"*\"]}");

        var expected = OrIds(
            Authenticated(new StringMatcher { Exact = "spiffe://cluster.local/ns/default/sa/productpage" }),
            Authenticated(new StringMatcher { Prefix = "spiffe://other.td/ns/a/" }),
            Authenticated(Regex("spiffe://.*/sa/admin")),
            Authenticated(Regex(".+")));
        Assert.Equal(expected, Assert.Single(policy.Principals));
        Assert.Equal(new Permission { Any = true }, Assert.Single(policy.Permissions));
    }

    [Fact]
    public void Build_ClusterLocalPrincipal_IsRewrittenToTheMeshTrustDomain()
    {
        var policy = OnlyPolicy("  - from:\n    - source: {principals: [cluster.local/ns/default/sa/productpage, other.td/ns/a/sa/b]}", trustDomain: "example.org");

        var expected = OrIds(
            Authenticated(new StringMatcher { Exact = "spiffe://example.org/ns/default/sa/productpage" }),
            Authenticated(new StringMatcher { Exact = "spiffe://other.td/ns/a/sa/b" }));
        Assert.Equal(expected, Assert.Single(policy.Principals));
    }

    [Fact]
    public void Build_Namespaces_MatchTheNamespaceOfAnyTrustDomain()
    {
        var policy = OnlyPolicy("  - from:\n    - source: {namespaces: [default, \"team-*\", \"*-prod\", \"*\"]}");

        var expected = OrIds(
            Authenticated(Regex("spiffe://[^/]+/ns/default/sa/[^/]+")),
            Authenticated(Regex("spiffe://[^/]+/ns/team-[^/]*/sa/[^/]+")),
            Authenticated(Regex("spiffe://[^/]+/ns/[^/]*-prod/sa/[^/]+")),
            Authenticated(Regex("spiffe://[^/]+/ns/[^/]+/sa/[^/]+")));
        Assert.Equal(expected, Assert.Single(policy.Principals));
    }

    [Fact]
    public void Build_SourceFields_AreAndedAndNotFieldsNegated()
    {
        var policy = OnlyPolicy("  - from:\n    - source: {principals: [a/ns/b/sa/c], notNamespaces: [test], ipBlocks: [10.0.0.0/8], notRemoteIpBlocks: [192.168.1.1]}");

        var expected = AndIds(
            Authenticated(new StringMatcher { Exact = "spiffe://a/ns/b/sa/c" }),
            new Principal { NotId = Authenticated(Regex("spiffe://[^/]+/ns/test/sa/[^/]+")) },
            new Principal { DirectRemoteIp = new CidrRange { AddressPrefix = "10.0.0.0", PrefixLen = 8 } },
            new Principal { NotId = new Principal { RemoteIp = new CidrRange { AddressPrefix = "192.168.1.1", PrefixLen = 32 } } });
        Assert.Equal(expected, Assert.Single(policy.Principals));
    }

    [Fact]
    public void Build_SeveralSources_AreOred()
    {
        var policy = OnlyPolicy("  - from:\n    - source: {namespaces: [a]}\n    - source: {namespaces: [b]}");

        var expected = OrIds(Authenticated(Regex("spiffe://[^/]+/ns/a/sa/[^/]+")), Authenticated(Regex("spiffe://[^/]+/ns/b/sa/[^/]+")));
        Assert.Equal(expected, Assert.Single(policy.Principals));
    }

    [Fact]
    public void Build_Operation_MapsMethodsPathsPortsAndHosts()
    {
        var policy = OnlyPolicy("  - to:\n    - operation: {methods: [POST], paths: [\"/reviews.Reviews/*\", /health, \"*\"], ports: [\"9080\"], hosts: [Reviews.default, \"*.svc\", \"api.*\"]}");

        var expected = And(
            Header(":method", new StringMatcher { Exact = "POST" }),
            Or(
                new Permission { UrlPath = new PathMatcher { Path = new StringMatcher { Prefix = "/reviews.Reviews/" } } },
                new Permission { UrlPath = new PathMatcher { Path = new StringMatcher { Exact = "/health" } } },
                new Permission { UrlPath = new PathMatcher { Path = Regex(".+") } }),
            new Permission { DestinationPort = 9080 },
            Or(
                Header(":authority", Regex("(?i)Reviews\\.default(:[0-9]+)?")),
                Header(":authority", new StringMatcher { Suffix = ".svc", IgnoreCase = true }),
                Header(":authority", new StringMatcher { Prefix = "api.", IgnoreCase = true })));
        Assert.Equal(expected, Assert.Single(policy.Permissions));
        Assert.Equal(new Principal { Any = true }, Assert.Single(policy.Principals));
    }

    [Fact]
    public void Build_NotOperationFields_AreNegated()
    {
        var policy = OnlyPolicy("  - to:\n    - operation: {notMethods: [GET, \"*\"], notPaths: [\"*.png\"], notPorts: [\"15000\"]}");

        var expected = And(
            new Permission { NotRule = Or(Header(":method", new StringMatcher { Exact = "GET" }), new Permission { Header = new HeaderMatcher { Name = ":method", PresentMatch = true } }) },
            new Permission { NotRule = new Permission { UrlPath = new PathMatcher { Path = new StringMatcher { Suffix = ".png" } } } },
            new Permission { NotRule = new Permission { DestinationPort = 15000 } });
        Assert.Equal(expected, Assert.Single(policy.Permissions));
    }

    [Fact]
    public void Build_WhenConditions_GoToPermissionsOrPrincipalsByKey()
    {
        var policy = OnlyPolicy("""
              - to:
                - operation: {paths: [/a]}
                from:
                - source: {namespaces: [default]}
                when:
                - {key: "request.headers[X-Version]", values: [v2, "beta-*"], notValues: ["*-bad"]}
                - {key: destination.port, values: ["9080"]}
                - {key: destination.ip, values: [127.0.0.0/8]}
                - {key: source.principal, values: [cluster.local/ns/default/sa/productpage]}
                - {key: source.namespace, notValues: [test]}
                - {key: source.ip, values: ["10.1.2.3"]}
                - {key: remote.ip, values: ["2001:db8::/32"]}
            """);

        var permissions = Assert.Single(policy.Permissions);
        var expectedPermissions = And(
            new Permission { UrlPath = new PathMatcher { Path = new StringMatcher { Exact = "/a" } } },
            Or(Header("x-version", new StringMatcher { Exact = "v2" }), Header("x-version", new StringMatcher { Prefix = "beta-" })),
            new Permission { NotRule = Header("x-version", new StringMatcher { Suffix = "-bad" }) },
            new Permission { DestinationPort = 9080 },
            new Permission { DestinationIp = new CidrRange { AddressPrefix = "127.0.0.0", PrefixLen = 8 } });
        Assert.Equal(expectedPermissions, permissions);

        var expectedPrincipals = AndIds(
            Authenticated(Regex("spiffe://[^/]+/ns/default/sa/[^/]+")),
            Authenticated(new StringMatcher { Exact = "spiffe://cluster.local/ns/default/sa/productpage" }),
            new Principal { NotId = Authenticated(Regex("spiffe://[^/]+/ns/test/sa/[^/]+")) },
            new Principal { DirectRemoteIp = new CidrRange { AddressPrefix = "10.1.2.3", PrefixLen = 32 } },
            new Principal { RemoteIp = new CidrRange { AddressPrefix = "2001:db8::", PrefixLen = 32 } });
        Assert.Equal(expectedPrincipals, Assert.Single(policy.Principals));
    }

    [Fact]
    public void Build_WildcardHeaderValue_IsAPresenceMatch()
    {
        var policy = OnlyPolicy("  - when:\n    - {key: \"request.headers[x-token]\", values: [\"*\"]}");

        Assert.Equal(new Permission { Header = new HeaderMatcher { Name = "x-token", PresentMatch = true } }, Assert.Single(policy.Permissions));
    }

    [Fact]
    public void Build_RegexMetacharactersInValues_AreEscaped()
    {
        Assert.Equal("a\\.b\\+c\\(d\\)\\[e\\]\\{f\\}\\|g\\?h\\^i\\$j\\\\k\\*", RbacFilterBuilder.EscapeRegex("a.b+c(d)[e]{f}|g?h^i$j\\k*"));
        Assert.Equal("team-a_b", RbacFilterBuilder.EscapeRegex("team-a_b"));
    }

    [Fact]
    public void Build_SameInput_SameBytes()
    {
        var yaml = Policy("p", "  rules:\n  - from:\n    - source: {namespaces: [a, b]}\n    to:\n    - operation: {paths: [/x]}");

        var first = RbacFilterBuilder.Build(Snapshot(yaml).AuthorizationPolicies, "cluster.local");
        var second = RbacFilterBuilder.Build(Snapshot(yaml).AuthorizationPolicies, "cluster.local");

        Assert.Equal(first[0].TypedConfig.Value, second[0].TypedConfig.Value);
    }
}
