using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Authorization;

/// <summary>
/// Reads and validates Istio AuthorizationPolicy resources (security.istio.io/v1 and v1beta1) into
/// <see cref="AuthorizationPolicyModel"/>s. Every problem is collected with the resource and the field; what Mesh
/// cannot enforce (AUDIT, CUSTOM, request principals, target references, ...) is an error, never silently ignored,
/// because a policy enforced differently from what it says could let calls through.
/// </summary>
internal static class AuthorizationPolicyBuilder
{
    private const string HeaderKeyPrefix = "request.headers[";

    /// <summary>Builds the policies of <paramref name="resources"/> (all of kind AuthorizationPolicy), ordered by namespace and name.</summary>
    public static ImmutableArray<AuthorizationPolicyModel> Build(IReadOnlyList<ConfigResource> resources, List<ConfigError> errors)
    {
        var policies = new List<AuthorizationPolicyModel>(resources.Count);
        foreach (var resource in resources)
        {
            var reporter = new Reporter(resource, errors);
            var spec = Parse(resource, reporter);
            if (spec is null)
            {
                continue;
            }

            var before = errors.Count;
            var policy = BuildPolicy(resource, spec, reporter);
            if (errors.Count == before)
            {
                policies.Add(policy);
            }
        }

        policies.Sort(static (a, b) =>
        {
            var byNamespace = string.CompareOrdinal(a.Namespace, b.Namespace);
            return byNamespace != 0 ? byNamespace : string.CompareOrdinal(a.Name, b.Name);
        });
        return [.. policies];
    }

    private static AuthorizationPolicySpec? Parse(ConfigResource resource, Reporter reporter)
    {
        // A missing spec is an empty one, as Kubernetes stores it: for ALLOW that is Istio's "allow nothing".
        JsonNode node = resource.Body["spec"] ?? new JsonObject();
        try
        {
            return node.Deserialize<AuthorizationPolicySpec>(MeshModelBuilder.SpecOptions) ?? new AuthorizationPolicySpec();
        }
        catch (JsonException ex)
        {
            reporter.Error("spec" + (ex.Path ?? "$").TrimStart('$'), MeshModelBuilder.DescribeJsonError(ex));
            return null;
        }
    }

    private static AuthorizationPolicyModel BuildPolicy(ConfigResource resource, AuthorizationPolicySpec spec, Reporter reporter)
    {
        var action = AuthorizationAction.Allow;
        switch (spec.Action)
        {
            case null or "ALLOW":
                break;
            case "DENY":
                action = AuthorizationAction.Deny;
                break;
            case "AUDIT" or "CUSTOM":
                reporter.Error("spec.action", $"'{spec.Action}' is not supported by Mesh; use ALLOW or DENY");
                break;
            default:
                reporter.Error("spec.action", $"'{spec.Action}' is not one of ALLOW, DENY, AUDIT, CUSTOM");
                break;
        }

        if (spec.Provider is not null)
        {
            reporter.Error("spec.provider", "is not supported by Mesh (it belongs to the CUSTOM action)");
        }

        if (spec.TargetRef is not null)
        {
            reporter.Error("spec.targetRef", "is not supported by Mesh (it selects gateways and waypoints); use selector");
        }

        if (spec.TargetRefs is not null)
        {
            reporter.Error("spec.targetRefs", "is not supported by Mesh (it selects gateways and waypoints); use selector");
        }

        ImmutableDictionary<string, string>? selector = null;
        if (spec.Selector?.MatchLabels is { Count: > 0 } labels)
        {
            foreach (var (key, value) in labels)
            {
                if (string.IsNullOrEmpty(key))
                {
                    reporter.Error("spec.selector.matchLabels", "a label name must not be empty");
                }
                else if (value is null || value.Contains('*', StringComparison.Ordinal))
                {
                    reporter.Error($"spec.selector.matchLabels.{key}", "must be a label value (wildcards are not allowed)");
                }
            }

            selector = labels.ToImmutableDictionary(StringComparer.Ordinal);
        }

        var rules = ImmutableArray.CreateBuilder<AuthorizationRule>();
        for (var i = 0; i < (spec.Rules?.Count ?? 0); i++)
        {
            // A null entry ("- " in YAML) is an empty rule, which matches every request.
            rules.Add(BuildRule(spec.Rules![i] ?? new AuthorizationRuleSpec(), $"spec.rules[{i}]", reporter));
        }

        return new AuthorizationPolicyModel
        {
            Namespace = resource.Namespace,
            Name = resource.Name,
            Selector = selector,
            Action = action,
            Rules = rules.ToImmutable(),
            DeclaredBy = $"{resource.DisplayName} ({resource.Origin})",
        };
    }

    private static AuthorizationRule BuildRule(AuthorizationRuleSpec spec, string field, Reporter reporter) => new()
    {
        From = BuildList(spec.From, field + ".from", static item => item?.Source, ".source", BuildSource, reporter),
        To = BuildList(spec.To, field + ".to", static item => item?.Operation, ".operation", BuildOperation, reporter),
        When = BuildList(spec.When, field + ".when", static item => item, string.Empty, BuildCondition, reporter),
    };

    // from[], to[] and when[] alike: set but empty is an error, an entry without its body is an error, and each body
    // is built (a body that does not build is left out; its errors are already reported).
    private static ImmutableArray<TResult> BuildList<TItem, TBody, TResult>(
        List<TItem>? items,
        string field,
        Func<TItem?, TBody?> body,
        string bodyName,
        Func<TBody, string, Reporter, TResult?> build,
        Reporter reporter)
        where TBody : class
        where TResult : class
    {
        if (items is { Count: 0 })
        {
            reporter.Error(field, "must not be empty when set");
        }

        var result = ImmutableArray.CreateBuilder<TResult>();
        for (var i = 0; i < (items?.Count ?? 0); i++)
        {
            var path = $"{field}[{i}]{bodyName}";
            if (body(items![i]) is not { } spec)
            {
                reporter.Error(path, "is required");
                continue;
            }

            if (build(spec, path, reporter) is { } built)
            {
                result.Add(built);
            }
        }

        return result.ToImmutable();
    }

    private static AuthorizationSource BuildSource(AuthorizationSourceSpec spec, string field, Reporter reporter)
    {
        NotSupported(spec.RequestPrincipals, field + ".requestPrincipals", "request authentication (JWT) is not available in Mesh", reporter);
        NotSupported(spec.NotRequestPrincipals, field + ".notRequestPrincipals", "request authentication (JWT) is not available in Mesh", reporter);
        NotSupported(spec.ServiceAccounts, field + ".serviceAccounts", "use principals", reporter);
        NotSupported(spec.NotServiceAccounts, field + ".notServiceAccounts", "use notPrincipals", reporter);

        var source = new AuthorizationSource
        {
            Principals = Principals(spec.Principals, field + ".principals", reporter),
            NotPrincipals = Principals(spec.NotPrincipals, field + ".notPrincipals", reporter),
            Namespaces = Namespaces(spec.Namespaces, field + ".namespaces", reporter),
            NotNamespaces = Namespaces(spec.NotNamespaces, field + ".notNamespaces", reporter),
            IpBlocks = IpBlocks(spec.IpBlocks, field + ".ipBlocks", reporter),
            NotIpBlocks = IpBlocks(spec.NotIpBlocks, field + ".notIpBlocks", reporter),
            RemoteIpBlocks = IpBlocks(spec.RemoteIpBlocks, field + ".remoteIpBlocks", reporter),
            NotRemoteIpBlocks = IpBlocks(spec.NotRemoteIpBlocks, field + ".notRemoteIpBlocks", reporter),
        };
        if (spec.Principals is null && spec.NotPrincipals is null && spec.Namespaces is null && spec.NotNamespaces is null
            && spec.IpBlocks is null && spec.NotIpBlocks is null && spec.RemoteIpBlocks is null && spec.NotRemoteIpBlocks is null
            && spec.RequestPrincipals is null && spec.NotRequestPrincipals is null && spec.ServiceAccounts is null && spec.NotServiceAccounts is null)
        {
            reporter.Error(field, "must set at least one field");
        }

        return source;
    }

    private static AuthorizationOperation BuildOperation(AuthorizationOperationSpec spec, string field, Reporter reporter)
    {
        var operation = new AuthorizationOperation
        {
            Hosts = Patterns(spec.Hosts, field + ".hosts", reporter),
            NotHosts = Patterns(spec.NotHosts, field + ".notHosts", reporter),
            Ports = Ports(spec.Ports, field + ".ports", reporter),
            NotPorts = Ports(spec.NotPorts, field + ".notPorts", reporter),
            Methods = Patterns(spec.Methods, field + ".methods", reporter),
            NotMethods = Patterns(spec.NotMethods, field + ".notMethods", reporter),
            Paths = Paths(spec.Paths, field + ".paths", reporter),
            NotPaths = Paths(spec.NotPaths, field + ".notPaths", reporter),
        };
        if (spec.Hosts is null && spec.NotHosts is null && spec.Ports is null && spec.NotPorts is null && spec.Methods is null
            && spec.NotMethods is null && spec.Paths is null && spec.NotPaths is null)
        {
            reporter.Error(field, "must set at least one field");
        }

        return operation;
    }

    private static AuthorizationCondition? BuildCondition(AuthorizationConditionSpec spec, string field, Reporter reporter)
    {
        var key = spec.Key;
        if (string.IsNullOrEmpty(key))
        {
            reporter.Error(field + ".key", "is required");
            return null;
        }

        if (spec.Values is not { Count: > 0 } && spec.NotValues is not { Count: > 0 })
        {
            reporter.Error(field, "at least one of values or notValues is required");
        }

        Func<List<string>?, string, Reporter, ImmutableArray<string>>? read = null;
        if (key.StartsWith(HeaderKeyPrefix, StringComparison.Ordinal) && key.EndsWith(']'))
        {
            var name = HeaderName(key);
            if (name.Length == 0)
            {
                reporter.Error(field + ".key", "names no header");
                return null;
            }

            if (name.StartsWith("grpc-", StringComparison.OrdinalIgnoreCase) || name.Equals(":scheme", StringComparison.OrdinalIgnoreCase))
            {
                reporter.Error(field + ".key", $"header '{name}' cannot be matched by gRPC servers (gRFC A41)");
                return null;
            }

            read = Patterns;
        }
        else
        {
            switch (key)
            {
                case "source.principal":
                    read = Principals;
                    break;
                case "source.namespace":
                    read = Namespaces;
                    break;
                case "source.ip" or "remote.ip" or "destination.ip":
                    read = IpBlocks;
                    break;
                case "destination.port":
                    var values = Ports(spec.Values, field + ".values", reporter);
                    var notValues = Ports(spec.NotValues, field + ".notValues", reporter);
                    return new AuthorizationCondition
                    {
                        Key = key,
                        Values = [.. values.Select(p => p.ToString(CultureInfo.InvariantCulture))],
                        NotValues = [.. notValues.Select(p => p.ToString(CultureInfo.InvariantCulture))],
                    };
                default:
                    var supported = "request.headers[<name>], source.principal, source.namespace, source.ip, remote.ip, destination.ip, destination.port";
                    var known = key.StartsWith("request.auth.", StringComparison.Ordinal) || key.StartsWith("experimental.", StringComparison.Ordinal)
                        || key is "connection.sni" or "source.serviceAccount" or "request.regex.headers";
                    reporter.Error(field + ".key", known
                        ? $"'{key}' is not supported by Mesh; supported keys: {supported}"
                        : $"unknown key '{key}'; supported keys: {supported}");
                    return null;
            }
        }

        return new AuthorizationCondition
        {
            Key = key,
            Values = read(spec.Values, field + ".values", reporter),
            NotValues = read(spec.NotValues, field + ".notValues", reporter),
        };
    }

    /// <summary>The header name of a <c>request.headers[name]</c> key.</summary>
    internal static string HeaderName(string key) => key[HeaderKeyPrefix.Length..^1].Trim();

    private static void NotSupported(List<string>? values, string field, string hint, Reporter reporter)
    {
        if (values is not null)
        {
            reporter.Error(field, $"is not supported by Mesh; {hint}");
        }
    }

    // ---- value lists ---------------------------------------------------------------------------------------

    /// <summary>Istio string matching: exact, <c>prefix*</c>, <c>*suffix</c> or <c>*</c>; no other wildcard.</summary>
    private static ImmutableArray<string> Patterns(List<string>? values, string field, Reporter reporter)
    {
        if (values is null)
        {
            return [];
        }

        var result = ImmutableArray.CreateBuilder<string>(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i];
            if (string.IsNullOrEmpty(value))
            {
                reporter.Error($"{field}[{i}]", "must not be empty");
                continue;
            }

            var star = value.IndexOf('*', StringComparison.Ordinal);
            var valid = value == "*" || star < 0 || (value.LastIndexOf('*') == star && (star == 0 || star == value.Length - 1));
            if (!valid)
            {
                reporter.Error($"{field}[{i}]", $"'{value}': a wildcard '*' may only stand alone, at the start or at the end");
                continue;
            }

            result.Add(value);
        }

        return result.ToImmutable();
    }

    private static ImmutableArray<string> Principals(List<string>? values, string field, Reporter reporter)
    {
        var result = Patterns(values, field, reporter);
        for (var i = 0; i < result.Length; i++)
        {
            if (result[i].Contains("://", StringComparison.Ordinal))
            {
                reporter.Error(field, $"'{result[i]}': write principals without a scheme, like cluster.local/ns/default/sa/productpage");
            }
        }

        return result;
    }

    private static ImmutableArray<string> Namespaces(List<string>? values, string field, Reporter reporter)
    {
        var result = Patterns(values, field, reporter);
        foreach (var value in result)
        {
            if (value.Contains('/', StringComparison.Ordinal))
            {
                reporter.Error(field, $"'{value}' is not a namespace");
            }
        }

        return result;
    }

    private static ImmutableArray<string> Paths(List<string>? values, string field, Reporter reporter)
    {
        if (values is null)
        {
            return [];
        }

        var plain = new List<string>(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i];
            if (value is not null && value.Contains('{', StringComparison.Ordinal))
            {
                reporter.Error($"{field}[{i}]", $"'{value}': path templates ({{*}}, {{**}}) are not supported by Mesh");
            }
            else if (!string.IsNullOrEmpty(value) && value[0] != '/' && value[0] != '*')
            {
                reporter.Error($"{field}[{i}]", $"'{value}': a path starts with '/'");
            }
            else
            {
                plain.Add(value!);
            }
        }

        return Patterns(plain, field, reporter);
    }

    private static ImmutableArray<string> IpBlocks(List<string>? values, string field, Reporter reporter)
    {
        if (values is null)
        {
            return [];
        }

        var result = ImmutableArray.CreateBuilder<string>(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i];
            if (value is null || !TryParseCidr(value, out _, out _))
            {
                reporter.Error($"{field}[{i}]", $"'{value}' is not an IP address or CIDR range");
                continue;
            }

            result.Add(value);
        }

        return result.ToImmutable();
    }

    private static ImmutableArray<int> Ports(List<string>? values, string field, Reporter reporter)
    {
        if (values is null)
        {
            return [];
        }

        var result = ImmutableArray.CreateBuilder<int>(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            if (!int.TryParse(values[i], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            {
                reporter.Error($"{field}[{i}]", $"'{values[i]}' is not a port (0-65535)");
                continue;
            }

            result.Add(port);
        }

        return result.ToImmutable();
    }

    /// <summary>Parses an IP address (a /32 or /128 range) or a CIDR range.</summary>
    internal static bool TryParseCidr(string text, out IPAddress address, out int prefixLength)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out address!) || addressText.Contains('%', StringComparison.Ordinal))
        {
            prefixLength = 0;
            return false;
        }

        var bits = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (slash < 0)
        {
            prefixLength = bits;
            return true;
        }

        return int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefixLength) && prefixLength <= bits;
    }

    private readonly struct Reporter(ConfigResource resource, List<ConfigError> errors)
    {
        public void Error(string field, string message) => errors.Add(new ConfigError(resource.Origin, resource.DisplayName, field, message));
    }
}
