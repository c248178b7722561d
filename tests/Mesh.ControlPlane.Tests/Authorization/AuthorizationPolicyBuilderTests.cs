using Mesh.ControlPlane.Authorization;
using Mesh.ControlPlane.Configuration;
using static Mesh.ControlPlane.Tests.Authorization.AuthzYaml;

namespace Mesh.ControlPlane.Tests.Authorization;

public class AuthorizationPolicyBuilderTests
{
    private static ConfigError SingleError(string yaml)
    {
        var result = Build(yaml);
        Assert.Null(result.Snapshot);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Build_FullPolicy_ReadsEveryField()
    {
        var snapshot = Snapshot(Policy("reviews-viewer", """
              selector:
                matchLabels: {app: reviews, version: v2}
              action: ALLOW
              rules:
              - from:
                - source:
                    principals: [cluster.local/ns/default/sa/productpage]
                    notNamespaces: [test]
                    ipBlocks: [10.0.0.0/8]
                to:
                - operation:
                    methods: [POST]
                    paths: [/reviews.Reviews/*]
                    ports: ["9080", 9081]
                    notHosts: ["*.internal"]
                when:
                - key: request.headers[x-version]
                  values: [v2]
                - key: destination.port
                  notValues: ["9999"]
            """));

        var policy = Assert.Single(snapshot.AuthorizationPolicies);
        Assert.Equal(("default", "reviews-viewer", AuthorizationAction.Allow), (policy.Namespace, policy.Name, policy.Action));
        Assert.Equal("reviews", policy.Selector!["app"]);
        Assert.Equal("v2", policy.Selector["version"]);
        var rule = Assert.Single(policy.Rules);
        var source = Assert.Single(rule.From);
        Assert.Equal(["cluster.local/ns/default/sa/productpage"], source.Principals.ToArray());
        Assert.Equal(["test"], source.NotNamespaces.ToArray());
        Assert.Equal(["10.0.0.0/8"], source.IpBlocks.ToArray());
        var operation = Assert.Single(rule.To);
        Assert.Equal([9080, 9081], operation.Ports.ToArray());
        Assert.Equal(["/reviews.Reviews/*"], operation.Paths.ToArray());
        Assert.Equal(["*.internal"], operation.NotHosts.ToArray());
        Assert.Equal(["request.headers[x-version]", "destination.port"], rule.When.Select(w => w.Key));
        Assert.Equal(["9999"], rule.When[1].NotValues.ToArray());
    }

    [Fact]
    public void Build_V1beta1AndDeny_Accepted()
    {
        var snapshot = Snapshot("""
            apiVersion: security.istio.io/v1beta1
            kind: AuthorizationPolicy
            metadata: {name: deny-admin, namespace: default}
            spec:
              action: DENY
              rules:
              - to:
                - operation: {paths: [/admin/*]}
            """);

        Assert.Equal(AuthorizationAction.Deny, Assert.Single(snapshot.AuthorizationPolicies).Action);
    }

    [Theory]
    [InlineData("spec: {}")]
    [InlineData("spec:\n  action: ALLOW")]
    [InlineData("")]
    public void Build_EmptySpecOrNoRules_IsAnAllowPolicyWithoutRules(string spec)
    {
        var snapshot = Snapshot($"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: allow-nothing}}\n{spec}\n");

        var policy = Assert.Single(snapshot.AuthorizationPolicies);
        Assert.Equal(AuthorizationAction.Allow, policy.Action);
        Assert.Empty(policy.Rules);
        Assert.Null(policy.Selector);
    }

    [Fact]
    public void Build_EmptyRule_IsKeptAsARuleWithoutConditions()
    {
        var snapshot = Snapshot(Policy("allow-all", "  rules:\n  - {}"));

        var rule = Assert.Single(Assert.Single(snapshot.AuthorizationPolicies).Rules);
        Assert.Empty(rule.From);
        Assert.Empty(rule.To);
        Assert.Empty(rule.When);
    }

    [Theory]
    [InlineData("AUDIT", "'AUDIT' is not supported by Mesh; use ALLOW or DENY")]
    [InlineData("CUSTOM", "'CUSTOM' is not supported by Mesh; use ALLOW or DENY")]
    [InlineData("PERMIT", "'PERMIT' is not one of ALLOW, DENY, AUDIT, CUSTOM")]
    public void Build_UnsupportedAction_ErrorNamesFileResourceAndField(string action, string message)
    {
        var error = SingleError(Policy("audit", $"  action: {action}\n  rules:\n  - {{}}"));

        Assert.Equal("authz.yaml:1", error.Origin);
        Assert.Equal("AuthorizationPolicy default/audit", error.Resource);
        Assert.Equal("spec.action", error.Field);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Build_RequestPrincipals_IsNotSupported()
    {
        var error = SingleError(Policy("jwt", "  rules:\n  - from:\n    - source: {requestPrincipals: [\"*\"]}"));

        Assert.Equal("spec.rules[0].from[0].source.requestPrincipals", error.Field);
        Assert.Contains("not supported", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("  provider: {name: ext}\n  action: CUSTOM", "spec.provider")]
    [InlineData("  targetRefs:\n  - {kind: Gateway, name: gw}", "spec.targetRefs")]
    [InlineData("  targetRef: {kind: Gateway, name: gw}", "spec.targetRef")]
    public void Build_GatewayAndCustomFields_AreRejected(string spec, string field)
    {
        var errors = Build(Policy("p", spec)).Errors;

        Assert.Contains(errors, e => e.Field == field && e.Message.Contains("not supported", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_UnknownField_ErrorNamesIt()
    {
        var error = SingleError(Policy("typo", "  rules:\n  - to:\n    - operation: {method: [GET]}"));

        Assert.Equal("spec.rules[0].to[0].operation.method", error.Field);
        Assert.Equal("unknown field 'method'", error.Message);
    }

    [Theory]
    [InlineData("  rules:\n  - from: []", "spec.rules[0].from", "must not be empty when set")]
    [InlineData("  rules:\n  - to: []", "spec.rules[0].to", "must not be empty when set")]
    [InlineData("  rules:\n  - from:\n    - source: {}", "spec.rules[0].from[0].source", "must set at least one field")]
    [InlineData("  rules:\n  - from:\n    - {}", "spec.rules[0].from[0].source", "is required")]
    [InlineData("  rules:\n  - to:\n    - operation: {}", "spec.rules[0].to[0].operation", "must set at least one field")]
    [InlineData("  rules:\n  - when:\n    - {key: source.ip}", "spec.rules[0].when[0]", "at least one of values or notValues is required")]
    public void Build_EmptyParts_AreRejected(string spec, string field, string message)
    {
        var error = SingleError(Policy("p", spec));

        Assert.Equal(field, error.Field);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("principals: [\"cluster.local/*/sa/x\"]", "spec.rules[0].from[0].source.principals[0]")]
    [InlineData("principals: [\"*a*\"]", "spec.rules[0].from[0].source.principals[0]")]
    [InlineData("principals: [\"\"]", "spec.rules[0].from[0].source.principals[0]")]
    [InlineData("principals: [\"spiffe://cluster.local/ns/a/sa/b\"]", "spec.rules[0].from[0].source.principals")]
    [InlineData("ipBlocks: [\"10.0.0.0/33\"]", "spec.rules[0].from[0].source.ipBlocks[0]")]
    [InlineData("notIpBlocks: [\"bogus\"]", "spec.rules[0].from[0].source.notIpBlocks[0]")]
    [InlineData("namespaces: [\"a/b\"]", "spec.rules[0].from[0].source.namespaces")]
    public void Build_BadSourceValues_ErrorNamesTheValue(string source, string field)
    {
        var error = SingleError(Policy("p", $"  rules:\n  - from:\n    - source: {{{source}}}"));

        Assert.Equal(field, error.Field);
    }

    [Theory]
    [InlineData("ports: [\"http\"]", "spec.rules[0].to[0].operation.ports[0]")]
    [InlineData("notPorts: [\"70000\"]", "spec.rules[0].to[0].operation.notPorts[0]")]
    [InlineData("paths: [\"/a/{*}/b\"]", "spec.rules[0].to[0].operation.paths[0]")]
    [InlineData("paths: [\"reviews\"]", "spec.rules[0].to[0].operation.paths[0]")]
    [InlineData("methods: [\"G*T\"]", "spec.rules[0].to[0].operation.methods[0]")]
    public void Build_BadOperationValues_ErrorNamesTheValue(string operation, string field)
    {
        var error = SingleError(Policy("p", $"  rules:\n  - to:\n    - operation: {{{operation}}}"));

        Assert.Equal(field, error.Field);
    }

    [Theory]
    [InlineData("request.auth.claims[iss]", "is not supported")]
    [InlineData("connection.sni", "is not supported")]
    [InlineData("source.user", "unknown key 'source.user'")]
    [InlineData("request.headers[grpc-timeout]", "cannot be matched by gRPC servers")]
    [InlineData("request.headers[]", "names no header")]
    public void Build_UnsupportedConditionKey_ErrorNamesTheKey(string key, string message)
    {
        var error = SingleError(Policy("p", $"  rules:\n  - when:\n    - key: {key}\n      values: [x]"));

        Assert.Equal("spec.rules[0].when[0].key", error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SeveralBadPolicies_ReportsEveryError()
    {
        var yaml = Policy("a", "  action: AUDIT") + "\n---\n" + Policy("b", "  rules:\n  - to:\n    - operation: {ports: [x]}");

        var result = Build(yaml);

        Assert.Null(result.Snapshot);
        Assert.Equal(["AuthorizationPolicy default/a", "AuthorizationPolicy default/b"], result.Errors.Select(e => e.Resource));
    }

    [Fact]
    public void Build_Policies_AreOrderedByNamespaceThenName()
    {
        var yaml = string.Join("\n---\n", Policy("b", "  {}"), Policy("a", "  {}", "zeta"), Policy("a", "  {}"));

        var snapshot = Snapshot(yaml);

        Assert.Equal(["default/a", "default/b", "zeta/a"], snapshot.AuthorizationPolicies.Select(p => $"{p.Namespace}/{p.Name}"));
    }
}
