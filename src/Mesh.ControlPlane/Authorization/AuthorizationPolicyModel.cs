using System.Collections.Immutable;

namespace Mesh.ControlPlane.Authorization;

/// <summary>What an AuthorizationPolicy does when one of its rules matches.</summary>
public enum AuthorizationAction
{
    /// <summary>Allow matching requests; once any ALLOW policy applies to a workload, requests no ALLOW policy matches are denied.</summary>
    Allow,

    /// <summary>Deny matching requests; DENY policies are evaluated before ALLOW policies.</summary>
    Deny,
}

/// <summary>An Istio AuthorizationPolicy, validated.</summary>
public sealed record AuthorizationPolicyModel
{
    /// <summary>The namespace the policy is in; the root namespace makes it mesh-wide.</summary>
    public required string Namespace { get; init; }

    /// <summary>The policy's name.</summary>
    public required string Name { get; init; }

    /// <summary>The workload labels the policy selects (<c>selector.matchLabels</c>); <see langword="null"/> selects every workload in scope.</summary>
    public ImmutableDictionary<string, string>? Selector { get; init; }

    /// <summary>ALLOW (the default) or DENY.</summary>
    public AuthorizationAction Action { get; init; }

    /// <summary>The rules; a policy matches a request when any rule does. No rules: the policy matches nothing.</summary>
    public ImmutableArray<AuthorizationRule> Rules { get; init; } = [];

    /// <summary>The resource that declared the policy, for messages.</summary>
    public string DeclaredBy { get; init; } = string.Empty;
}

/// <summary>
/// One rule: it matches when some <see cref="From"/> entry, some <see cref="To"/> entry and every <see cref="When"/>
/// condition match; an empty list places no constraint, so an empty rule matches every request.
/// </summary>
public sealed record AuthorizationRule
{
    /// <summary>Who the request comes from (entries are ORed).</summary>
    public ImmutableArray<AuthorizationSource> From { get; init; } = [];

    /// <summary>What the request does (entries are ORed).</summary>
    public ImmutableArray<AuthorizationOperation> To { get; init; } = [];

    /// <summary>Further conditions (all must hold).</summary>
    public ImmutableArray<AuthorizationCondition> When { get; init; } = [];
}

/// <summary>
/// A request's source. Every non-empty list must match (ANDed); within a list, any value may match. Values use Istio's
/// string matching: exact, <c>prefix*</c>, <c>*suffix</c> or <c>*</c>.
/// </summary>
public sealed record AuthorizationSource
{
    /// <summary>Peer identities without the <c>spiffe://</c> scheme, such as <c>cluster.local/ns/default/sa/productpage</c>.</summary>
    public ImmutableArray<string> Principals { get; init; } = [];

    /// <summary>Peer identities that must not match.</summary>
    public ImmutableArray<string> NotPrincipals { get; init; } = [];

    /// <summary>The peer's namespace, from its identity.</summary>
    public ImmutableArray<string> Namespaces { get; init; } = [];

    /// <summary>Namespaces that must not match.</summary>
    public ImmutableArray<string> NotNamespaces { get; init; } = [];

    /// <summary>The peer's IP address or CIDR range.</summary>
    public ImmutableArray<string> IpBlocks { get; init; } = [];

    /// <summary>Peer IP ranges that must not match.</summary>
    public ImmutableArray<string> NotIpBlocks { get; init; } = [];

    /// <summary>The original client's IP range (the peer's, for proxyless servers).</summary>
    public ImmutableArray<string> RemoteIpBlocks { get; init; } = [];

    /// <summary>Original client IP ranges that must not match.</summary>
    public ImmutableArray<string> NotRemoteIpBlocks { get; init; } = [];
}

/// <summary>A request's operation. Every non-empty list must match (ANDed); within a list, any value may match.</summary>
public sealed record AuthorizationOperation
{
    /// <summary><c>:authority</c> values, matched case-insensitively; an exact host also matches it with a port.</summary>
    public ImmutableArray<string> Hosts { get; init; } = [];

    /// <summary>Hosts that must not match.</summary>
    public ImmutableArray<string> NotHosts { get; init; } = [];

    /// <summary>Destination ports.</summary>
    public ImmutableArray<int> Ports { get; init; } = [];

    /// <summary>Destination ports that must not match.</summary>
    public ImmutableArray<int> NotPorts { get; init; } = [];

    /// <summary>HTTP methods (gRPC calls are <c>POST</c>).</summary>
    public ImmutableArray<string> Methods { get; init; } = [];

    /// <summary>Methods that must not match.</summary>
    public ImmutableArray<string> NotMethods { get; init; } = [];

    /// <summary>Request paths without query; for gRPC <c>/package.Service/Method</c>, or <c>/package.Service/*</c>.</summary>
    public ImmutableArray<string> Paths { get; init; } = [];

    /// <summary>Paths that must not match.</summary>
    public ImmutableArray<string> NotPaths { get; init; } = [];
}

/// <summary>A <c>when</c> condition: the attribute named by <see cref="Key"/> matches a value and no not-value.</summary>
public sealed record AuthorizationCondition
{
    /// <summary>
    /// The attribute: <c>request.headers[name]</c>, <c>source.principal</c>, <c>source.namespace</c>, <c>source.ip</c>,
    /// <c>remote.ip</c>, <c>destination.ip</c> or <c>destination.port</c>.
    /// </summary>
    public required string Key { get; init; }

    /// <summary>Values of which one must match (no constraint when empty).</summary>
    public ImmutableArray<string> Values { get; init; } = [];

    /// <summary>Values none of which may match.</summary>
    public ImmutableArray<string> NotValues { get; init; } = [];
}
