using Envoy.Config.Core.V3;
using Envoy.Config.Rbac.V3;
using Envoy.Type.Matcher.V3;
using Envoy.Type.V3;
using Mesh.Server.Authorization;
using Microsoft.AspNetCore.Http;
using static Mesh.Server.Tests.Authorization.RbacTestRequests;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;
using HeaderMatcher = Envoy.Config.Route.V3.HeaderMatcher;

namespace Mesh.Server.Tests.Authorization;

public class RbacEngineTests
{
    private static Permission PathPrefix(string prefix) => new() { UrlPath = new PathMatcher { Path = new StringMatcher { Prefix = prefix } } };

    private static Permission Header(string name, StringMatcher match, bool invert = false) =>
        new() { Header = new HeaderMatcher { Name = name, StringMatch = match, InvertMatch = invert } };

    private static Principal Spiffe(string exact) =>
        new() { Authenticated = new Principal.Types.Authenticated { PrincipalName = new StringMatcher { Exact = exact } } };

    [Fact]
    public void Compile_NoRules_AllowsEverything()
    {
        var engine = RbacEngine.Compile(new FilterRbac());

        var decision = engine.Evaluate(Request());

        Assert.True(decision.IsAllowed);
        Assert.Null(decision.PolicyName);
    }

    [Fact]
    public void Compile_LogAction_IsIgnoredAsIfNoRbac()
    {
        var engine = RbacEngine.Compile(Config(RBAC.Types.Action.Log, ("p", PathPrefix("/never"), new Principal { Any = true })));

        Assert.True(engine.Evaluate(Request("/reviews.Reviews/Get")).IsAllowed);
        Assert.Null(engine.Action);
    }

    [Fact]
    public void Evaluate_AllowActionWithoutPolicies_DeniesEverything()
    {
        var engine = RbacEngine.Compile(Config(RBAC.Types.Action.Allow));

        var decision = engine.Evaluate(Request(peer: Productpage));

        Assert.False(decision.IsAllowed);
        Assert.Null(decision.PolicyName);
    }

    [Fact]
    public void Evaluate_AllowAction_AllowsOnlyWhatAPolicyMatchesAndNamesIt()
    {
        var engine = RbacEngine.Compile(Config(
            RBAC.Types.Action.Allow,
            ("reviews", PathPrefix("/reviews.Reviews/"), Spiffe("spiffe://cluster.local/ns/default/sa/productpage")),
            ("health", PathPrefix("/grpc.health.v1.Health/"), new Principal { Any = true })));

        var allowed = engine.Evaluate(Request("/reviews.Reviews/GetReviews", Productpage));
        var otherCaller = engine.Evaluate(Request("/reviews.Reviews/GetReviews", Ratings));
        var health = engine.Evaluate(Request("/grpc.health.v1.Health/Check", Ratings));

        Assert.Equal(RbacDecision.AllowedBy("reviews"), allowed);
        Assert.Equal(RbacDecision.DeniedBy(null), otherCaller);
        Assert.Equal(RbacDecision.AllowedBy("health"), health);
    }

    [Fact]
    public void Evaluate_DenyAction_DeniesOnlyWhatAPolicyMatches()
    {
        var engine = Engine(RBAC.Types.Action.Deny, PathPrefix("/admin/"));

        Assert.Equal(RbacDecision.DeniedBy("p"), engine.Evaluate(Request("/admin/users")));
        Assert.Equal(RbacDecision.Allow, engine.Evaluate(Request("/reviews.Reviews/Get")));
    }

    [Fact]
    public void Evaluate_Policy_NeedsBothAPermissionAndAPrincipal()
    {
        var engine = Engine(RBAC.Types.Action.Allow, PathPrefix("/reviews.Reviews/"), Spiffe("spiffe://cluster.local/ns/default/sa/productpage"));

        Assert.True(engine.Evaluate(Request("/reviews.Reviews/Get", Productpage)).IsAllowed);
        Assert.False(engine.Evaluate(Request("/ratings.Ratings/Get", Productpage)).IsAllowed);
        Assert.False(engine.Evaluate(Request("/reviews.Reviews/Get", Ratings)).IsAllowed);
    }

    [Fact]
    public void Evaluate_PolicyWithSeveralPermissions_MatchesWhenAnyMatches()
    {
        var config = new FilterRbac
        {
            Rules = new RBAC
            {
                Action = RBAC.Types.Action.Allow,
                Policies = { ["p"] = new Policy { Permissions = { PathPrefix("/a/"), PathPrefix("/b/") }, Principals = { new Principal { Any = true } } } },
            },
        };
        var engine = RbacEngine.Compile(config);

        Assert.True(engine.Evaluate(Request("/a/x")).IsAllowed);
        Assert.True(engine.Evaluate(Request("/b/x")).IsAllowed);
        Assert.False(engine.Evaluate(Request("/c/x")).IsAllowed);
    }

    [Fact]
    public void Evaluate_AndOrNotRules_CombineAsBooleanOperators()
    {
        var and = new Permission { AndRules = new Permission.Types.Set { Rules = { PathPrefix("/a/"), Header(":method", new StringMatcher { Exact = "GET" }) } } };
        var or = new Permission { OrRules = new Permission.Types.Set { Rules = { PathPrefix("/a/"), PathPrefix("/b/") } } };
        var not = new Permission { NotRule = PathPrefix("/a/") };

        Assert.True(PermissionMatches(and, Request("/a/x", method: "GET")));
        Assert.False(PermissionMatches(and, Request("/a/x", method: "POST")));
        Assert.True(PermissionMatches(or, Request("/b/x")));
        Assert.False(PermissionMatches(or, Request("/c/x")));
        Assert.False(PermissionMatches(not, Request("/a/x")));
        Assert.True(PermissionMatches(not, Request("/c/x")));
    }

    [Fact]
    public void Evaluate_AndOrNotIds_CombineAsBooleanOperators()
    {
        var or = new Principal { OrIds = new Principal.Types.Set { Ids = { Spiffe("spiffe://cluster.local/ns/default/sa/productpage"), Spiffe("spiffe://x/y") } } };
        var and = new Principal { AndIds = new Principal.Types.Set { Ids = { or, new Principal { NotId = Spiffe("spiffe://x/y") } } } };

        Assert.True(PrincipalMatches(and, Request(peer: Productpage)));
        Assert.False(PrincipalMatches(and, Request(peer: Ratings)));
        Assert.True(PrincipalMatches(new Principal { NotId = Spiffe("spiffe://cluster.local/ns/default/sa/productpage") }, Request(peer: Ratings)));
    }

    [Fact]
    public void Evaluate_PseudoHeaders_MethodPathAndAuthorityAreAvailable()
    {
        Assert.True(PermissionMatches(Header(":method", new StringMatcher { Exact = "POST" }), Request()));
        Assert.True(PermissionMatches(Header(":path", new StringMatcher { Prefix = "/reviews." }), Request()));
        Assert.True(PermissionMatches(Header(":authority", new StringMatcher { Exact = "reviews:9080" }), Request()));
        Assert.False(PermissionMatches(Header(":authority", new StringMatcher { Exact = "ratings:9080" }), Request()));
    }

    [Fact]
    public void Evaluate_HostHeader_IsTheAuthority()
    {
        var host = Header("Host", new StringMatcher { Prefix = "reviews" });

        Assert.True(PermissionMatches(host, Request(authority: "reviews:9080")));
        Assert.False(PermissionMatches(host, Request(authority: "ratings:9080")));
    }

    [Fact]
    public void Evaluate_MultiValuedHeader_IsJoinedWithComma()
    {
        var headers = new HeaderDictionary { ["x-team"] = new(["a", "b"]) };

        Assert.True(PermissionMatches(Header("x-team", new StringMatcher { Exact = "a,b" }), Request(headers: headers)));
        Assert.False(PermissionMatches(Header("x-team", new StringMatcher { Exact = "a" }), Request(headers: headers)));
    }

    [Fact]
    public void Evaluate_HeaderNamesInPolicy_AreCaseInsensitive()
    {
        var headers = new HeaderDictionary { ["x-user"] = "alice" };

        Assert.True(PermissionMatches(Header("X-User", new StringMatcher { Exact = "alice" }), Request(headers: headers)));
    }

    [Fact]
    public void Evaluate_MissingHeader_NeverMatchesEvenInverted()
    {
        var inverted = Header("x-user", new StringMatcher { Exact = "alice" }, invert: true);

        Assert.False(PermissionMatches(inverted, Request(headers: [])));
        Assert.True(PermissionMatches(inverted, Request(headers: new HeaderDictionary { ["x-user"] = "bob" })));
    }

    [Fact]
    public void Evaluate_TreatMissingHeaderAsEmpty_MatchesEmptyValue()
    {
        var permission = new Permission
        {
            Header = new HeaderMatcher { Name = "x-user", StringMatch = new StringMatcher { Exact = "" }, TreatMissingHeaderAsEmpty = true },
        };

        Assert.True(PermissionMatches(permission, Request(headers: [])));
        Assert.False(PermissionMatches(permission, Request(headers: new HeaderDictionary { ["x-user"] = "bob" })));
    }

    [Fact]
    public void Evaluate_PresentMatch_FollowsPresence()
    {
        var present = new Permission { Header = new HeaderMatcher { Name = "x-user", PresentMatch = true } };

        Assert.True(PermissionMatches(present, Request(headers: new HeaderDictionary { ["x-user"] = "bob" })));
        Assert.False(PermissionMatches(present, Request(headers: [])));
    }

    [Fact]
    public void Evaluate_TeHeader_NeverMatches()
    {
        var te = new Permission { Header = new HeaderMatcher { Name = "te", PresentMatch = true } };

        Assert.False(PermissionMatches(te, Request(headers: new HeaderDictionary { ["te"] = "trailers" })));
    }

    [Theory]
    [InlineData("grpc-timeout")]
    [InlineData("GRPC-encoding")]
    [InlineData(":scheme")]
    public void Compile_HeaderMatcherOnGrpcHeaderOrScheme_FailsNamingTheField(string name)
    {
        var config = Config(RBAC.Types.Action.Allow, ("p", new Permission { Header = new HeaderMatcher { Name = name, PresentMatch = true } }, new Principal { Any = true }));

        Assert.False(RbacEngine.TryCompile(config, out _, out var errors));

        var error = Assert.Single(errors);
        Assert.StartsWith("rules.policies[p].permissions[0].header.name:", error, StringComparison.Ordinal);
        Assert.Contains("A41", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_GrpcHeaderInPrincipal_Fails()
    {
        var config = Config(RBAC.Types.Action.Deny, ("p", new Permission { Any = true }, new Principal { Header = new HeaderMatcher { Name = "grpc-trace-bin", PresentMatch = true } }));

        var ex = Assert.Throws<RbacConfigurationException>(() => RbacEngine.Compile(config));

        Assert.Contains("rules.policies[p].principals[0].header.name", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/reviews.Reviews/GetReviews", true)]
    [InlineData("/reviews.Reviews/", true)]
    [InlineData("/ratings.Ratings/Get", false)]
    public void Evaluate_UrlPathPrefix_MatchesGrpcServiceMethods(string path, bool expected)
    {
        Assert.Equal(expected, PermissionMatches(PathPrefix("/reviews.Reviews/"), Request(path)));
    }

    [Fact]
    public void Evaluate_UrlPathRegexAndIgnoreCase_Match()
    {
        var regex = new Permission { UrlPath = new PathMatcher { Path = new StringMatcher { SafeRegex = new RegexMatcher { Regex = "/reviews\\.Reviews/(Get|List)Reviews" } } } };
        var ignoreCase = new Permission { UrlPath = new PathMatcher { Path = new StringMatcher { Exact = "/A/B", IgnoreCase = true } } };

        Assert.True(PermissionMatches(regex, Request("/reviews.Reviews/ListReviews")));
        Assert.False(PermissionMatches(regex, Request("/reviews.Reviews/DeleteReviews")));
        Assert.True(PermissionMatches(ignoreCase, Request("/a/b")));
    }

    [Fact]
    public void Evaluate_PrincipalUrlPath_MatchesLikeThePermission()
    {
        var principal = new Principal { UrlPath = new PathMatcher { Path = new StringMatcher { Exact = "/a" } } };

        Assert.True(PrincipalMatches(principal, Request("/a")));
        Assert.False(PrincipalMatches(principal, Request("/b")));
    }

    [Fact]
    public void Evaluate_DestinationPortAndRange_MatchTheLocalPort()
    {
        var range = new Permission { DestinationPortRange = new Int32Range { Start = 9000, End = 9080 } };

        Assert.True(PermissionMatches(new Permission { DestinationPort = 9080 }, Request(localPort: 9080)));
        Assert.False(PermissionMatches(new Permission { DestinationPort = 9080 }, Request(localPort: 9081)));
        Assert.True(PermissionMatches(range, Request(localPort: 9079)));
        Assert.False(PermissionMatches(range, Request(localPort: 9080)));
    }

    [Theory]
    [InlineData("10.1.0.0", 16u, "10.1.200.7", true)]
    [InlineData("10.1.0.0", 16u, "10.2.0.1", false)]
    [InlineData("10.1.2.3", 32u, "10.1.2.3", true)]
    [InlineData("10.1.2.3", 0u, "192.168.1.1", true)]
    [InlineData("10.1.0.0", 16u, "::ffff:10.1.9.9", true)]
    [InlineData("2001:db8::", 32u, "2001:db8:1::5", true)]
    [InlineData("2001:db8::", 32u, "2001:db9::5", false)]
    [InlineData("10.0.0.0", 8u, "2001:db8::1", false)]
    [InlineData("10.1.2.3", 16u, "10.1.9.9", true)] // host bits in the prefix are masked, as Envoy does
    public void Evaluate_RemoteIpCidr_MatchesThePeerAddress(string prefix, uint length, string remote, bool expected)
    {
        var cidr = new CidrRange { AddressPrefix = prefix, PrefixLen = length };

        Assert.Equal(expected, PrincipalMatches(new Principal { DirectRemoteIp = cidr }, Request(remoteAddress: remote)));
        Assert.Equal(expected, PrincipalMatches(new Principal { RemoteIp = cidr }, Request(remoteAddress: remote)));
    }

    [Fact]
    public void Evaluate_DestinationIp_MatchesTheLocalAddress()
    {
        var permission = new Permission { DestinationIp = new CidrRange { AddressPrefix = "127.0.0.0", PrefixLen = 8 } };

        Assert.True(PermissionMatches(permission, Request(localAddress: "127.0.0.1")));
        Assert.False(PermissionMatches(permission, Request(localAddress: "10.0.0.1")));
    }

    [Fact]
    public void Evaluate_RequestedServerName_IsAlwaysEmpty()
    {
        var empty = new Permission { RequestedServerName = new StringMatcher { SafeRegex = new RegexMatcher { Regex = ".*" } } };
        var named = new Permission { RequestedServerName = new StringMatcher { Exact = "reviews" } };

        Assert.True(PermissionMatches(empty, Request()));
        Assert.False(PermissionMatches(named, Request()));
    }

    [Fact]
    public void Evaluate_AuthenticatedWithoutName_MatchesAnyTlsPeerButNeverPlaintext()
    {
        var authenticated = new Principal { Authenticated = new Principal.Types.Authenticated() };

        Assert.True(PrincipalMatches(authenticated, Request(peer: Productpage)));
        Assert.True(PrincipalMatches(authenticated, Request(peer: RbacPeer.TlsWithoutCertificate)));
        Assert.False(PrincipalMatches(authenticated, Request(peer: RbacPeer.Plaintext)));
    }

    [Fact]
    public void Evaluate_PlaintextPeer_NeverMatchesAPrincipalNameEvenOneAcceptingEmpty()
    {
        var acceptsEmpty = new Principal { Authenticated = new Principal.Types.Authenticated { PrincipalName = new StringMatcher { SafeRegex = new RegexMatcher { Regex = ".*" } } } };

        Assert.False(PrincipalMatches(acceptsEmpty, Request(peer: RbacPeer.Plaintext)));
        Assert.True(PrincipalMatches(acceptsEmpty, Request(peer: RbacPeer.TlsWithoutCertificate)));
        Assert.True(PrincipalMatches(new Principal { NotId = acceptsEmpty }, Request(peer: RbacPeer.Plaintext)));
    }

    [Fact]
    public void Evaluate_PrincipalName_ChecksUriSansWhenThereAreAny()
    {
        var peer = RbacPeer.Create(["spiffe://td/ns/a/sa/x", "spiffe://td/ns/a/sa/y"], ["reviews.default.svc"], "CN=reviews");

        Assert.True(PrincipalMatches(Spiffe("spiffe://td/ns/a/sa/y"), Request(peer: peer)));
        Assert.False(PrincipalMatches(Spiffe("reviews.default.svc"), Request(peer: peer)));
        Assert.False(PrincipalMatches(Spiffe("CN=reviews"), Request(peer: peer)));
    }

    [Fact]
    public void Evaluate_PrincipalName_FallsBackToDnsSansThenSubject()
    {
        var dnsOnly = RbacPeer.Create([], ["reviews.default.svc"], "CN=reviews");
        var subjectOnly = RbacPeer.Create([], [], "CN=reviews,O=mesh");

        Assert.True(PrincipalMatches(Spiffe("reviews.default.svc"), Request(peer: dnsOnly)));
        Assert.False(PrincipalMatches(Spiffe("CN=reviews"), Request(peer: dnsOnly)));
        Assert.True(PrincipalMatches(Spiffe("CN=reviews,O=mesh"), Request(peer: subjectOnly)));
    }

    [Fact]
    public void Compile_UnsetOrUnknownRule_FailsNamingTheField()
    {
        var config = Config(RBAC.Types.Action.Allow, ("p", new Permission(), new Principal()));

        Assert.False(RbacEngine.TryCompile(config, out _, out var errors));

        Assert.Equal(2, errors.Count);
        Assert.StartsWith("rules.policies[p].permissions[0]:", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("rules.policies[p].principals[0]:", errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_InvalidMatchers_CollectsEveryError()
    {
        var permission = new Permission
        {
            AndRules = new Permission.Types.Set
            {
                Rules =
                {
                    new Permission { UrlPath = new PathMatcher { Path = new StringMatcher { SafeRegex = new RegexMatcher { Regex = "(unclosed" } } } },
                    new Permission { Any = false },
                    new Permission { DestinationIp = new CidrRange { AddressPrefix = "10.0.0.0", PrefixLen = 33 } },
                    new Permission { Header = new HeaderMatcher { Name = "x", StringMatch = new StringMatcher { Prefix = "" } } },
                },
            },
        };
        var principal = new Principal { RemoteIp = new CidrRange { AddressPrefix = "not-an-ip" } };

        Assert.False(RbacEngine.TryCompile(Config(RBAC.Types.Action.Deny, ("p", permission, principal)), out var engine, out var errors));

        Assert.Same(RbacEngine.AllowAll, engine);
        Assert.Collection(
            errors,
            e => Assert.StartsWith("rules.policies[p].permissions[0].and_rules.rules[0].url_path.path: invalid regex", e, StringComparison.Ordinal),
            e => Assert.StartsWith("rules.policies[p].permissions[0].and_rules.rules[1].any: must be true", e, StringComparison.Ordinal),
            e => Assert.StartsWith("rules.policies[p].permissions[0].and_rules.rules[2].destination_ip: prefix_len 33", e, StringComparison.Ordinal),
            e => Assert.StartsWith("rules.policies[p].permissions[0].and_rules.rules[3].header.string_match: prefix must not be empty", e, StringComparison.Ordinal),
            e => Assert.StartsWith("rules.policies[p].principals[0].remote_ip: address_prefix 'not-an-ip'", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_PolicyWithoutPermissionsOrPrincipals_Fails()
    {
        var config = new FilterRbac { Rules = new RBAC { Action = RBAC.Types.Action.Allow, Policies = { ["empty"] = new Policy() } } };

        Assert.False(RbacEngine.TryCompile(config, out _, out var errors));

        Assert.Equal(["rules.policies[empty].permissions: at least one permission is required", "rules.policies[empty].principals: at least one principal is required"], errors);
    }

    [Fact]
    public void Evaluate_SeveralMatchingPolicies_ReportsTheFirstByName()
    {
        var engine = RbacEngine.Compile(Config(
            RBAC.Types.Action.Deny,
            ("b-second", new Permission { Any = true }, new Principal { Any = true }),
            ("a-first", new Permission { Any = true }, new Principal { Any = true })));

        Assert.Equal(RbacDecision.DeniedBy("a-first"), engine.Evaluate(Request()));
    }

    [Fact]
    public void Chain_DenyThenAllow_AllowsOnlyWhenEveryEngineAllows()
    {
        var deny = Engine(RBAC.Types.Action.Deny, PathPrefix("/reviews.Reviews/Delete"));
        var allow = Engine(RBAC.Types.Action.Allow, PathPrefix("/reviews.Reviews/"), Spiffe("spiffe://cluster.local/ns/default/sa/productpage"));
        var chain = new RbacEngineChain([deny, allow]);

        Assert.Equal(RbacDecision.AllowedBy("p"), chain.Evaluate(Request("/reviews.Reviews/Get", Productpage)));
        Assert.Equal(RbacDecision.DeniedBy("p"), chain.Evaluate(Request("/reviews.Reviews/Delete", Productpage)));
        Assert.Equal(RbacDecision.DeniedBy(null), chain.Evaluate(Request("/reviews.Reviews/Get", Ratings)));
        Assert.Equal(RbacDecision.Allow, RbacEngineChain.Empty.Evaluate(Request()));
    }
}
