using Mesh.ControlPlane.Authorization;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.Server.Authorization;
using Microsoft.AspNetCore.Http;
using static Mesh.Server.Tests.Authorization.RbacTestRequests;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace Mesh.Server.Tests.Authorization;

/// <summary>
/// Istio's AuthorizationPolicy semantics end to end across both halves: YAML → control plane (validation, workload
/// scope, RBAC translation) → bytes on the wire → the server's RBAC engines → a decision.
/// </summary>
public class IstioPolicySemanticsTests
{
    private static readonly Dictionary<string, string> ReviewsLabels = new() { ["app"] = "reviews", ["version"] = "v1" };

    private static RbacEngineChain Chain(string yaml, string trustDomain = "cluster.local", string ns = "default", Dictionary<string, string>? labels = null)
    {
        var read = YamlResourceReader.Read(yaml, "authz.yaml", "default");
        Assert.Empty(read.Errors);
        var built = MeshModelBuilder.Build(read.Resources, version: 1);
        Assert.Empty(built.Errors);
        var policies = AuthorizationPolicyScope.ForWorkload(built.Snapshot!, ns, labels ?? ReviewsLabels);
        var engines = new List<RbacEngine>();
        foreach (var filter in RbacFilterBuilder.Build(policies, trustDomain))
        {
            // Through the wire format, as the server's xDS client receives it.
            var config = FilterRbac.Parser.ParseFrom(filter.TypedConfig.Value);
            Assert.True(RbacEngine.TryCompile(config, out var engine, out var errors), string.Join("; ", errors));
            engines.Add(engine);
        }

        return new RbacEngineChain(engines);
    }

    private static string Policy(string name, string spec, string ns = "default") => $$"""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: {{name}}, namespace: {{ns}}}
        spec:
        {{spec}}
        """;

    private static RbacPeer Peer(string spiffeId) => RbacPeer.Create([spiffeId], [], "CN=x");

    private const string ReviewsForProductpage = """
          selector:
            matchLabels: {app: reviews}
          action: ALLOW
          rules:
          - from:
            - source: {principals: [cluster.local/ns/default/sa/productpage]}
            to:
            - operation: {paths: ["/reviews.Reviews/*"]}
        """;

    [Fact]
    public void AllowOnlyProductpageToReviews_ThatCallerGetsThroughOthersAreDenied()
    {
        var chain = Chain(Policy("reviews-viewer", ReviewsForProductpage));

        var allowed = chain.Evaluate(Request("/reviews.Reviews/GetReviews", Productpage));

        Assert.Equal(RbacDecision.AllowedBy("ns[default]-policy[reviews-viewer]-rule[0]"), allowed);
        Assert.False(chain.Evaluate(Request("/reviews.Reviews/GetReviews", Ratings)).IsAllowed);
        Assert.False(chain.Evaluate(Request("/ratings.Ratings/Get", Productpage)).IsAllowed);
        Assert.False(chain.Evaluate(Request("/reviews.Reviews/GetReviews", RbacPeer.Plaintext)).IsAllowed);
        Assert.False(chain.Evaluate(Request("/reviews.Reviews/GetReviews", RbacPeer.TlsWithoutCertificate)).IsAllowed);
    }

    [Fact]
    public void DenyRule_WinsOverAnAllowRule()
    {
        var deny = Policy("no-delete", "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/reviews.Reviews/DeleteReview]}");
        var chain = Chain(Policy("reviews-viewer", ReviewsForProductpage) + "\n---\n" + deny);

        Assert.True(chain.Evaluate(Request("/reviews.Reviews/GetReviews", Productpage)).IsAllowed);
        Assert.Equal(RbacDecision.DeniedBy("ns[default]-policy[no-delete]-rule[0]"), chain.Evaluate(Request("/reviews.Reviews/DeleteReview", Productpage)));
    }

    [Fact]
    public void NoPolicy_AllowsEverything()
    {
        var chain = Chain(Policy("for-ratings", "  selector:\n    matchLabels: {app: ratings}\n  rules:\n  - {}"));

        Assert.Equal(0, chain.Count);
        Assert.True(chain.Evaluate(Request(peer: RbacPeer.Plaintext)).IsAllowed);
    }

    [Fact]
    public void EmptySpec_AllowsNothing()
    {
        var chain = Chain(Policy("allow-nothing", "  {}"));

        Assert.False(chain.Evaluate(Request(peer: Productpage)).IsAllowed);
    }

    [Fact]
    public void EmptyRule_AllowsEverythingEvenPlaintext()
    {
        var chain = Chain(Policy("allow-all", "  rules:\n  - {}"));

        Assert.True(chain.Evaluate(Request(peer: RbacPeer.Plaintext)).IsAllowed);
    }

    [Fact]
    public void DenyWithoutRules_DeniesNothing()
    {
        var chain = Chain(Policy("deny-nothing", "  action: DENY"));

        Assert.True(chain.Evaluate(Request(peer: RbacPeer.Plaintext)).IsAllowed);
    }

    [Fact]
    public void RootNamespaceDeny_AppliesToEveryNamespace()
    {
        var chain = Chain(Policy("deny-test", "  action: DENY\n  rules:\n  - from:\n    - source: {namespaces: [test]}", "istio-system"), ns: "other", labels: []);

        Assert.False(chain.Evaluate(Request(peer: Peer("spiffe://cluster.local/ns/test/sa/x"))).IsAllowed);
        Assert.True(chain.Evaluate(Request(peer: Peer("spiffe://cluster.local/ns/test2/sa/x"))).IsAllowed);
        Assert.True(chain.Evaluate(Request(peer: Productpage)).IsAllowed);
    }

    [Theory]
    [InlineData("spiffe://cluster.local/ns/default/sa/productpage", true)]
    [InlineData("spiffe://other.domain/ns/default/sa/anything", true)]
    [InlineData("spiffe://cluster.local/ns/default-evil/sa/x", false)]
    [InlineData("spiffe://cluster.local/ns/test/sa/default", false)]
    [InlineData("spiffe://cluster.local/ns/default/sa/x/y", false)]
    public void Namespaces_MatchOnlyThatNamespaceOfTheIdentity(string identity, bool allowed)
    {
        var chain = Chain(Policy("from-default", "  rules:\n  - from:\n    - source: {namespaces: [default]}"));

        Assert.Equal(allowed, chain.Evaluate(Request(peer: Peer(identity))).IsAllowed);
    }

    [Fact]
    public void NotPrincipalsInDeny_DeniesPlaintextCallers()
    {
        var chain = Chain(Policy("only-mesh", "  action: DENY\n  rules:\n  - from:\n    - source: {notPrincipals: [\"*\"]}"));

        Assert.False(chain.Evaluate(Request(peer: RbacPeer.Plaintext)).IsAllowed);
        Assert.True(chain.Evaluate(Request(peer: Ratings)).IsAllowed);
    }

    [Fact]
    public void ClusterLocalPrincipal_MatchesTheMeshTrustDomain()
    {
        var chain = Chain(Policy("reviews-viewer", ReviewsForProductpage), trustDomain: "example.org");

        Assert.True(chain.Evaluate(Request(peer: Peer("spiffe://example.org/ns/default/sa/productpage"))).IsAllowed);
        Assert.False(chain.Evaluate(Request(peer: Productpage)).IsAllowed);
    }

    [Theory]
    [InlineData("reviews.default.svc.cluster.local", true)]
    [InlineData("REVIEWS.default.svc.cluster.local:9080", true)]
    [InlineData("reviews.default.svc.cluster.local:abc", false)]
    [InlineData("reviews.default.svc.cluster.localhost", false)]
    public void Hosts_MatchCaseInsensitivelyWithOrWithoutPort(string authority, bool allowed)
    {
        var chain = Chain(Policy("by-host", "  rules:\n  - to:\n    - operation: {hosts: [reviews.default.svc.cluster.local]}"));

        Assert.Equal(allowed, chain.Evaluate(Request(authority: authority)).IsAllowed);
    }

    [Fact]
    public void WhenHeaderAndMethod_AreAllRequired()
    {
        var chain = Chain(Policy("canary", """
              rules:
              - to:
                - operation: {methods: [GET]}
                when:
                - key: request.headers[x-canary]
                  values: ["yes"]
            """));

        Assert.True(chain.Evaluate(Request(method: "GET", headers: new HeaderDictionary { ["x-canary"] = "yes" })).IsAllowed);
        Assert.False(chain.Evaluate(Request(method: "POST", headers: new HeaderDictionary { ["x-canary"] = "yes" })).IsAllowed);
        Assert.False(chain.Evaluate(Request(method: "GET", headers: new HeaderDictionary { ["x-canary"] = "no" })).IsAllowed);
        Assert.False(chain.Evaluate(Request(method: "GET")).IsAllowed);
    }

    [Fact]
    public void IpBlocksAndPorts_MatchTheConnection()
    {
        var chain = Chain(Policy("local", "  rules:\n  - from:\n    - source: {ipBlocks: [127.0.0.0/8]}\n    to:\n    - operation: {ports: [\"9080\"]}"));

        Assert.True(chain.Evaluate(Request(remoteAddress: "127.0.0.5", localPort: 9080)).IsAllowed);
        Assert.False(chain.Evaluate(Request(remoteAddress: "10.0.0.5", localPort: 9080)).IsAllowed);
        Assert.False(chain.Evaluate(Request(remoteAddress: "127.0.0.5", localPort: 9081)).IsAllowed);
    }
}
