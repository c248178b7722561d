using System.Globalization;
using System.Text;
using Envoy.Config.Core.V3;
using Envoy.Config.Rbac.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf.WellKnownTypes;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using RouteHeaderMatcher = Envoy.Config.Route.V3.HeaderMatcher;

namespace Mesh.ControlPlane.Authorization;

/// <summary>
/// Translates the AuthorizationPolicies that apply to one workload into RBAC HTTP filters for its inbound HTTP
/// connection manager (before the router), the way Istio does: a DENY filter first when any DENY policy applies, then
/// an ALLOW filter when any ALLOW policy applies. Each rule of a policy becomes one RBAC policy named
/// <c>ns[&lt;ns&gt;]-policy[&lt;name&gt;]-rule[&lt;i&gt;]</c>. Pure: the same input always gives the same output.
/// </summary>
public static class RbacFilterBuilder
{
    /// <summary>The name of the ALLOW filter.</summary>
    public const string AllowFilterName = "envoy.filters.http.rbac";

    /// <summary>
    /// The name of the DENY filter. It differs from the ALLOW filter's because gRPC rejects a listener with two HTTP
    /// filters of the same name (A39); Istio names its proxyless DENY filter the same way.
    /// </summary>
    public const string DenyFilterName = "envoy.filters.http.rbac.DENY";

    private const string SpiffePrefix = "spiffe://";

    /// <summary>The istio trust domain that stands for "this mesh's trust domain" in principals.</summary>
    private const string LocalTrustDomain = "cluster.local";

    /// <summary>
    /// The RBAC filters for <paramref name="policies"/> (those <see cref="AuthorizationPolicyScope.ForWorkload"/>
    /// returned); empty when none apply, which allows everything.
    /// </summary>
    /// <param name="policies">The policies that apply to the workload.</param>
    /// <param name="trustDomain">The mesh's trust domain; principals in <c>cluster.local</c> are rewritten to it, as Istio does.</param>
    public static IReadOnlyList<Hcm.HttpFilter> Build(IReadOnlyList<AuthorizationPolicyModel> policies, string trustDomain)
    {
        ArgumentNullException.ThrowIfNull(policies);
        ArgumentException.ThrowIfNullOrEmpty(trustDomain);
        var filters = new List<Hcm.HttpFilter>(2);
        if (BuildRbac(policies, AuthorizationAction.Deny, trustDomain) is { } deny)
        {
            filters.Add(new Hcm.HttpFilter { Name = DenyFilterName, TypedConfig = Any.Pack(deny) });
        }

        if (BuildRbac(policies, AuthorizationAction.Allow, trustDomain) is { } allow)
        {
            filters.Add(new Hcm.HttpFilter { Name = AllowFilterName, TypedConfig = Any.Pack(allow) });
        }

        return filters;
    }

    /// <summary>
    /// The RBAC filter configuration for the policies with <paramref name="action"/>, or <see langword="null"/> when
    /// there are none. An ALLOW policy without rules adds no RBAC policy, so an ALLOW filter can be empty: it denies all.
    /// </summary>
    internal static FilterRbac? BuildRbac(IReadOnlyList<AuthorizationPolicyModel> policies, AuthorizationAction action, string trustDomain)
    {
        RBAC? rules = null;
        foreach (var policy in policies)
        {
            if (policy.Action != action)
            {
                continue;
            }

            rules ??= new RBAC { Action = action == AuthorizationAction.Allow ? RBAC.Types.Action.Allow : RBAC.Types.Action.Deny };
            for (var i = 0; i < policy.Rules.Length; i++)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"ns[{policy.Namespace}]-policy[{policy.Name}]-rule[{i}]");
                rules.Policies[name] = BuildPolicy(policy.Rules[i], trustDomain);
            }
        }

        return rules is null ? null : new FilterRbac { Rules = rules };
    }

    private static Policy BuildPolicy(AuthorizationRule rule, string trustDomain)
    {
        var permissions = new List<Permission>();
        var principals = new List<Principal>();
        if (!rule.To.IsEmpty)
        {
            permissions.Add(OrPermissions(rule.To.Select(Operation).ToList()));
        }

        if (!rule.From.IsEmpty)
        {
            principals.Add(OrPrincipals(rule.From.Select(s => Source(s, trustDomain)).ToList()));
        }

        foreach (var condition in rule.When)
        {
            Condition(condition, trustDomain, permissions, principals);
        }

        return new Policy
        {
            Permissions = { permissions.Count == 0 ? new Permission { Any = true } : AndPermissions(permissions) },
            Principals = { principals.Count == 0 ? new Principal { Any = true } : AndPrincipals(principals) },
        };
    }

    // ---- to.operation → permissions ------------------------------------------------------------------------

    private static Permission Operation(AuthorizationOperation operation)
    {
        var all = new List<Permission>();
        AddPermission(all, operation.Methods, operation.NotMethods, m => Header(":method", m));
        AddPermission(all, operation.Paths, operation.NotPaths, Path);
        AddPermission(all, operation.Ports.Select(p => p.ToString(CultureInfo.InvariantCulture)), operation.NotPorts.Select(p => p.ToString(CultureInfo.InvariantCulture)), Port);
        AddPermission(all, operation.Hosts, operation.NotHosts, Host);
        return all.Count == 0 ? new Permission { Any = true } : AndPermissions(all);
    }

    private static void AddPermission(List<Permission> into, IEnumerable<string> values, IEnumerable<string> notValues, Func<string, Permission> one)
    {
        var positive = values.Select(one).ToList();
        if (positive.Count > 0)
        {
            into.Add(OrPermissions(positive));
        }

        var negative = notValues.Select(one).ToList();
        if (negative.Count > 0)
        {
            into.Add(new Permission { NotRule = OrPermissions(negative) });
        }
    }

    private static Permission Header(string name, string value) => new() { Header = HeaderMatcher(name, value) };

    private static Permission Path(string value) => new() { UrlPath = new PathMatcher { Path = Pattern(value, string.Empty) } };

    private static Permission Port(string value) => new() { DestinationPort = uint.Parse(value, CultureInfo.InvariantCulture) };

    /// <summary>Hosts match case-insensitively; an exact host also matches with a port (<c>reviews:9080</c>).</summary>
    private static Permission Host(string value)
    {
        var matcher = new RouteHeaderMatcher { Name = ":authority" };
        if (value == "*")
        {
            matcher.PresentMatch = true;
        }
        else if (value[0] == '*')
        {
            matcher.StringMatch = new StringMatcher { Suffix = value[1..], IgnoreCase = true };
        }
        else if (value[^1] == '*')
        {
            matcher.StringMatch = new StringMatcher { Prefix = value[..^1], IgnoreCase = true };
        }
        else
        {
            matcher.StringMatch = Regex("(?i)" + EscapeRegex(value) + "(:[0-9]+)?");
        }

        return new Permission { Header = matcher };
    }

    // ---- from.source → principals --------------------------------------------------------------------------

    private static Principal Source(AuthorizationSource source, string trustDomain)
    {
        var all = new List<Principal>();
        AddPrincipal(all, source.Principals, source.NotPrincipals, p => PrincipalName(p, trustDomain));
        AddPrincipal(all, source.Namespaces, source.NotNamespaces, Namespace);
        AddPrincipal(all, source.IpBlocks, source.NotIpBlocks, ip => new Principal { DirectRemoteIp = Cidr(ip) });
        AddPrincipal(all, source.RemoteIpBlocks, source.NotRemoteIpBlocks, ip => new Principal { RemoteIp = Cidr(ip) });
        return all.Count == 0 ? new Principal { Any = true } : AndPrincipals(all);
    }

    private static void AddPrincipal(List<Principal> into, IEnumerable<string> values, IEnumerable<string> notValues, Func<string, Principal> one)
    {
        var positive = values.Select(one).ToList();
        if (positive.Count > 0)
        {
            into.Add(OrPrincipals(positive));
        }

        var negative = notValues.Select(one).ToList();
        if (negative.Count > 0)
        {
            into.Add(new Principal { NotId = OrPrincipals(negative) });
        }
    }

    /// <summary>An Istio principal (<c>td/ns/x/sa/y</c>, with Istio wildcards) as a match on the peer's SPIFFE ID.</summary>
    private static Principal PrincipalName(string value, string trustDomain)
    {
        StringMatcher name;
        if (value == "*")
        {
            name = Regex(".+");
        }
        else if (value[0] == '*')
        {
            name = Regex(EscapeRegex(SpiffePrefix) + ".*" + EscapeRegex(value[1..]));
        }
        else
        {
            var slash = value.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && string.Equals(value[..slash], LocalTrustDomain, StringComparison.Ordinal))
            {
                value = trustDomain + value[slash..];
            }

            name = value[^1] == '*'
                ? new StringMatcher { Prefix = SpiffePrefix + value[..^1] }
                : new StringMatcher { Exact = SpiffePrefix + value };
        }

        return new Principal { Authenticated = new Principal.Types.Authenticated { PrincipalName = name } };
    }

    /// <summary>A namespace as a match on the peer's SPIFFE ID <c>spiffe://&lt;any trust domain&gt;/ns/&lt;ns&gt;/sa/&lt;sa&gt;</c>.</summary>
    private static Principal Namespace(string value)
    {
        var pattern = value switch
        {
            "*" => "[^/]+",
            _ when value[0] == '*' => "[^/]*" + EscapeRegex(value[1..]),
            _ when value[^1] == '*' => EscapeRegex(value[..^1]) + "[^/]*",
            _ => EscapeRegex(value),
        };
        var name = Regex("spiffe://[^/]+/ns/" + pattern + "/sa/[^/]+");
        return new Principal { Authenticated = new Principal.Types.Authenticated { PrincipalName = name } };
    }

    // ---- when → permissions or principals ------------------------------------------------------------------

    private static void Condition(AuthorizationCondition condition, string trustDomain, List<Permission> permissions, List<Principal> principals)
    {
        switch (condition.Key)
        {
            case "source.principal":
                AddPrincipal(principals, condition.Values, condition.NotValues, p => PrincipalName(p, trustDomain));
                break;
            case "source.namespace":
                AddPrincipal(principals, condition.Values, condition.NotValues, Namespace);
                break;
            case "source.ip":
                AddPrincipal(principals, condition.Values, condition.NotValues, ip => new Principal { DirectRemoteIp = Cidr(ip) });
                break;
            case "remote.ip":
                AddPrincipal(principals, condition.Values, condition.NotValues, ip => new Principal { RemoteIp = Cidr(ip) });
                break;
            case "destination.ip":
                AddPermission(permissions, condition.Values, condition.NotValues, ip => new Permission { DestinationIp = Cidr(ip) });
                break;
            case "destination.port":
                AddPermission(permissions, condition.Values, condition.NotValues, Port);
                break;
            default:
                // request.headers[<name>]; the builder admits no other key.
                var header = AuthorizationPolicyBuilder.HeaderName(condition.Key).ToLowerInvariant();
                AddPermission(permissions, condition.Values, condition.NotValues, v => Header(header, v));
                break;
        }
    }

    // ---- matchers ------------------------------------------------------------------------------------------

    /// <summary>Istio's header matching: <c>*</c> is presence, <c>*x</c> a suffix, <c>x*</c> a prefix, else exact.</summary>
    private static RouteHeaderMatcher HeaderMatcher(string name, string value)
    {
        var matcher = new RouteHeaderMatcher { Name = name };
        if (value == "*")
        {
            matcher.PresentMatch = true;
        }
        else
        {
            matcher.StringMatch = Pattern(value, string.Empty);
        }

        return matcher;
    }

    /// <summary>Istio's string matching with a fixed prefix: <c>*</c> is any non-empty value.</summary>
    private static StringMatcher Pattern(string value, string prefix) => value switch
    {
        "*" => Regex(".+"),
        _ when value[0] == '*' => prefix.Length == 0 ? new StringMatcher { Suffix = value[1..] } : Regex(EscapeRegex(prefix) + ".*" + EscapeRegex(value[1..])),
        _ when value[^1] == '*' => new StringMatcher { Prefix = prefix + value[..^1] },
        _ => new StringMatcher { Exact = prefix + value },
    };

    private static StringMatcher Regex(string pattern) =>
        new() { SafeRegex = new RegexMatcher { GoogleRe2 = new RegexMatcher.Types.GoogleRE2(), Regex = pattern } };

    private static CidrRange Cidr(string value)
    {
        if (!AuthorizationPolicyBuilder.TryParseCidr(value, out var address, out var length))
        {
            throw new ArgumentException($"'{value}' is not an IP address or CIDR range", nameof(value));
        }

        return new CidrRange { AddressPrefix = address.ToString(), PrefixLen = (uint)length };
    }

    /// <summary>Escapes the characters RE2 gives a meaning to (and nothing else, so the pattern stays RE2-valid).</summary>
    internal static string EscapeRegex(string text)
    {
        var escaped = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (c is '\\' or '.' or '+' or '*' or '?' or '(' or ')' or '|' or '[' or ']' or '{' or '}' or '^' or '$')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }

    private static Permission OrPermissions(List<Permission> rules) =>
        rules.Count == 1 ? rules[0] : new Permission { OrRules = new Permission.Types.Set { Rules = { rules } } };

    private static Permission AndPermissions(List<Permission> rules) =>
        rules.Count == 1 ? rules[0] : new Permission { AndRules = new Permission.Types.Set { Rules = { rules } } };

    private static Principal OrPrincipals(List<Principal> ids) =>
        ids.Count == 1 ? ids[0] : new Principal { OrIds = new Principal.Types.Set { Ids = { ids } } };

    private static Principal AndPrincipals(List<Principal> ids) =>
        ids.Count == 1 ? ids[0] : new Principal { AndIds = new Principal.Types.Set { Ids = { ids } } };
}
