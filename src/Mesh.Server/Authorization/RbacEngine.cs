using Envoy.Config.Rbac.V3;
using Envoy.Config.Route.V3;
using Envoy.Type.Matcher.V3;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace Mesh.Server.Authorization;

/// <summary>Thrown by <see cref="RbacEngine.Compile"/> when a configuration cannot be enforced; the message names every bad field.</summary>
internal sealed class RbacConfigurationException(IReadOnlyList<string> errors)
    : Exception("invalid RBAC configuration: " + string.Join("; ", errors))
{
    /// <summary>Every problem, each naming the field.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>
/// The RBAC engine of gRFC A41: one RBAC HTTP filter configuration compiled once into an immutable evaluator.
/// An ALLOW engine allows a request iff some policy matches it; a DENY engine denies iff some policy matches; a
/// filter without <c>rules</c>, or with the LOG action (A41: ignored entirely), allows everything. A policy matches
/// when any of its permissions and any of its principals match. Evaluation allocates nothing.
/// </summary>
internal sealed class RbacEngine
{
    private readonly CompiledPolicy[] _policies;

    private RbacEngine(RBAC.Types.Action? action, CompiledPolicy[] policies)
    {
        Action = action;
        _policies = policies;
    }

    /// <summary>An engine that allows everything.</summary>
    public static RbacEngine AllowAll { get; } = new(null, []);

    /// <summary>The action this engine enforces, or <see langword="null"/> when it enforces nothing.</summary>
    public RBAC.Types.Action? Action { get; }

    /// <summary>The names of the policies, in evaluation order.</summary>
    public IEnumerable<string> PolicyNames => _policies.Select(p => p.Name);

    /// <summary>Compiles <paramref name="config"/>; throws <see cref="RbacConfigurationException"/> naming every bad field.</summary>
    public static RbacEngine Compile(FilterRbac config) =>
        TryCompile(config, out var engine, out var errors) ? engine : throw new RbacConfigurationException(errors);

    /// <summary>Compiles <paramref name="config"/>, or collects every reason it cannot be enforced (the listener is then NACKed, A39).</summary>
    public static bool TryCompile(FilterRbac config, out RbacEngine engine, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(config);
        var problems = new List<string>();
        engine = AllowAll;
        errors = problems;
        var rules = config.Rules;
        if (rules is null || rules.Action == RBAC.Types.Action.Log)
        {
            // No rules: nothing is enforced. LOG: A41 ignores the policy as if RBAC were not configured.
            return true;
        }

        if (rules.Action is not (RBAC.Types.Action.Allow or RBAC.Types.Action.Deny))
        {
            problems.Add($"rules.action: unknown action {(int)rules.Action}");
            return false;
        }

        // Policies are evaluated in name order so that the reported policy does not depend on map order on the wire.
        var names = rules.Policies.Keys.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        var policies = new List<CompiledPolicy>(names.Length);
        foreach (var name in names)
        {
            var policy = rules.Policies[name];
            var field = $"rules.policies[{name}]";
            if (policy.Permissions.Count == 0)
            {
                problems.Add($"{field}.permissions: at least one permission is required");
            }

            if (policy.Principals.Count == 0)
            {
                problems.Add($"{field}.principals: at least one principal is required");
            }

            var permissions = new RbacMatcher[policy.Permissions.Count];
            for (var i = 0; i < permissions.Length; i++)
            {
                permissions[i] = CompilePermission(policy.Permissions[i], $"{field}.permissions[{i}]", problems);
            }

            var principals = new RbacMatcher[policy.Principals.Count];
            for (var i = 0; i < principals.Length; i++)
            {
                principals[i] = CompilePrincipal(policy.Principals[i], $"{field}.principals[{i}]", problems);
            }

            policies.Add(new CompiledPolicy(name, permissions, principals));
        }

        if (problems.Count > 0)
        {
            return false;
        }

        engine = new RbacEngine(rules.Action, [.. policies]);
        return true;
    }

    /// <summary>Decides <paramref name="request"/>.</summary>
    public RbacDecision Evaluate(in RbacRequest request)
    {
        if (Action is not { } action)
        {
            return RbacDecision.Allow;
        }

        foreach (var policy in _policies)
        {
            if (policy.Matches(request))
            {
                return action == RBAC.Types.Action.Allow ? RbacDecision.AllowedBy(policy.Name) : RbacDecision.DeniedBy(policy.Name);
            }
        }

        return action == RBAC.Types.Action.Allow ? RbacDecision.DeniedBy(null) : RbacDecision.Allow;
    }

    private static RbacMatcher CompilePermission(Permission permission, string field, List<string> problems)
    {
        switch (permission.RuleCase)
        {
            case Permission.RuleOneofCase.AndRules:
                return new AndMatcher(CompilePermissions(permission.AndRules.Rules, field + ".and_rules", problems));
            case Permission.RuleOneofCase.OrRules:
                return new OrMatcher(CompilePermissions(permission.OrRules.Rules, field + ".or_rules", problems));
            case Permission.RuleOneofCase.NotRule:
                return new NotMatcher(CompilePermission(permission.NotRule, field + ".not_rule", problems));
            case Permission.RuleOneofCase.Any:
                return CompileAny(permission.Any, field, problems);
            case Permission.RuleOneofCase.Header:
                return CompileHeader(permission.Header, field + ".header", problems);
            case Permission.RuleOneofCase.UrlPath:
                return CompileUrlPath(permission.UrlPath, field + ".url_path", problems);
            case Permission.RuleOneofCase.DestinationIp:
                return CompileCidr(CidrTarget.Destination, permission.DestinationIp, field + ".destination_ip", problems);
            case Permission.RuleOneofCase.DestinationPort:
                if (permission.DestinationPort > 65535)
                {
                    problems.Add($"{field}.destination_port: {permission.DestinationPort} is not a port");
                }

                return new DestinationPortMatcher((int)permission.DestinationPort);
            case Permission.RuleOneofCase.DestinationPortRange:
                var range = permission.DestinationPortRange;
                if (range.Start > range.End)
                {
                    problems.Add($"{field}.destination_port_range: start {range.Start} is after end {range.End}");
                }

                return new DestinationPortRangeMatcher(range.Start, range.End);
            case Permission.RuleOneofCase.RequestedServerName:
                return CompileString(permission.RequestedServerName, field + ".requested_server_name", problems) is { } name
                    ? new RequestedServerNameMatcher(name)
                    : AnyMatcher.Instance;
            default:
                problems.Add($"{field}: no rule is set, or it uses a field Mesh does not support (for example metadata)");
                return AnyMatcher.Instance;
        }
    }

    private static RbacMatcher[] CompilePermissions(Google.Protobuf.Collections.RepeatedField<Permission> permissions, string field, List<string> problems)
    {
        var matchers = new RbacMatcher[permissions.Count];
        for (var i = 0; i < matchers.Length; i++)
        {
            matchers[i] = CompilePermission(permissions[i], $"{field}.rules[{i}]", problems);
        }

        return matchers;
    }

    private static RbacMatcher CompilePrincipal(Principal principal, string field, List<string> problems)
    {
        switch (principal.IdentifierCase)
        {
            case Principal.IdentifierOneofCase.AndIds:
                return new AndMatcher(CompilePrincipals(principal.AndIds.Ids, field + ".and_ids", problems));
            case Principal.IdentifierOneofCase.OrIds:
                return new OrMatcher(CompilePrincipals(principal.OrIds.Ids, field + ".or_ids", problems));
            case Principal.IdentifierOneofCase.NotId:
                return new NotMatcher(CompilePrincipal(principal.NotId, field + ".not_id", problems));
            case Principal.IdentifierOneofCase.Any:
                return CompileAny(principal.Any, field, problems);
            case Principal.IdentifierOneofCase.Authenticated:
                if (principal.Authenticated.PrincipalName is not { } name)
                {
                    return new AuthenticatedMatcher(null);
                }

                var condition = CompileString(name, field + ".authenticated.principal_name", problems);
                return condition is null ? AnyMatcher.Instance : new AuthenticatedMatcher(condition);
            case Principal.IdentifierOneofCase.DirectRemoteIp:
                return CompileCidr(CidrTarget.Remote, principal.DirectRemoteIp, field + ".direct_remote_ip", problems);
            case Principal.IdentifierOneofCase.RemoteIp:
                // A41: remote_ip equals direct_remote_ip while proxy protocol and xff_num_trusted_hops are unsupported.
                return CompileCidr(CidrTarget.Remote, principal.RemoteIp, field + ".remote_ip", problems);
            case Principal.IdentifierOneofCase.Header:
                return CompileHeader(principal.Header, field + ".header", problems);
            case Principal.IdentifierOneofCase.UrlPath:
                return CompileUrlPath(principal.UrlPath, field + ".url_path", problems);
            default:
                problems.Add($"{field}: no identifier is set, or it uses a field Mesh does not support (for example metadata or source_ip)");
                return AnyMatcher.Instance;
        }
    }

    private static RbacMatcher[] CompilePrincipals(Google.Protobuf.Collections.RepeatedField<Principal> principals, string field, List<string> problems)
    {
        var matchers = new RbacMatcher[principals.Count];
        for (var i = 0; i < matchers.Length; i++)
        {
            matchers[i] = CompilePrincipal(principals[i], $"{field}.ids[{i}]", problems);
        }

        return matchers;
    }

    private static AnyMatcher CompileAny(bool any, string field, List<string> problems)
    {
        if (!any)
        {
            problems.Add($"{field}.any: must be true");
        }

        return AnyMatcher.Instance;
    }

    private static RbacMatcher CompileHeader(HeaderMatcher header, string field, List<string> problems)
    {
        var name = header.Name.ToLowerInvariant();
        if (name.Length == 0)
        {
            problems.Add($"{field}.name: is required");
            return AnyMatcher.Instance;
        }

        if (name.StartsWith("grpc-", StringComparison.Ordinal) || name == ":scheme")
        {
            // A41: matching grpc- headers or :scheme is a validation failure.
            problems.Add($"{field}.name: '{header.Name}' cannot be matched by a gRPC server (gRFC A41)");
            return AnyMatcher.Instance;
        }

        if (header.StringMatch is { } stringMatch && HasEmptyPattern(stringMatch, field + ".string_match", problems))
        {
            return AnyMatcher.Instance;
        }

        var condition = XdsResourceTypes.CompileHeader(header, out var error);
        if (condition is null)
        {
            problems.Add($"{field}: {error}");
            return AnyMatcher.Instance;
        }

        return new HeaderRbacMatcher(condition, header.TreatMissingHeaderAsEmpty);
    }

    private static RbacMatcher CompileUrlPath(PathMatcher path, string field, List<string> problems)
    {
        if (path.RuleCase != PathMatcher.RuleOneofCase.Path)
        {
            problems.Add($"{field}.path: is required");
            return AnyMatcher.Instance;
        }

        return CompileString(path.Path, field + ".path", problems) is { } condition ? new UrlPathMatcher(condition) : AnyMatcher.Instance;
    }

    private static RbacMatcher CompileCidr(CidrTarget target, Envoy.Config.Core.V3.CidrRange range, string field, List<string> problems)
    {
        var matcher = CidrMatcher.Compile(target, range, out var error);
        if (matcher is null)
        {
            problems.Add($"{field}: {error}");
            return AnyMatcher.Instance;
        }

        return matcher;
    }

    /// <summary>A string matcher, compiled by the client's header matcher code (a header condition without a name).</summary>
    private static HeaderCondition? CompileString(StringMatcher matcher, string field, List<string> problems)
    {
        if (HasEmptyPattern(matcher, field, problems))
        {
            return null;
        }

        var condition = XdsResourceTypes.CompileHeader(new HeaderMatcher { StringMatch = matcher }, out var error);
        if (condition is null)
        {
            problems.Add($"{field}: {error}");
        }

        return condition;
    }

    /// <summary>Envoy requires prefix, suffix and contains to be non-empty (an empty one would match everything).</summary>
    private static bool HasEmptyPattern(StringMatcher matcher, string field, List<string> problems)
    {
        var empty = matcher.MatchPatternCase switch
        {
            StringMatcher.MatchPatternOneofCase.Prefix => matcher.Prefix.Length == 0,
            StringMatcher.MatchPatternOneofCase.Suffix => matcher.Suffix.Length == 0,
            StringMatcher.MatchPatternOneofCase.Contains => matcher.Contains.Length == 0,
            _ => false,
        };
        if (empty)
        {
            problems.Add($"{field}: {matcher.MatchPatternCase.ToString().ToLowerInvariant()} must not be empty");
        }

        return empty;
    }

    private sealed class CompiledPolicy(string name, RbacMatcher[] permissions, RbacMatcher[] principals)
    {
        public string Name { get; } = name;

        public bool Matches(in RbacRequest request) => AnyMatches(permissions, request) && AnyMatches(principals, request);

        private static bool AnyMatches(RbacMatcher[] matchers, in RbacRequest request)
        {
            foreach (var matcher in matchers)
            {
                if (matcher.Matches(request))
                {
                    return true;
                }
            }

            return false;
        }
    }
}

/// <summary>
/// The RBAC filters of one listener in order (Istio emits DENY, then ALLOW): a request is allowed only if every
/// engine allows it; the first engine that denies decides.
/// </summary>
internal sealed class RbacEngineChain
{
    private readonly RbacEngine[] _engines;

    public RbacEngineChain(IEnumerable<RbacEngine> engines) => _engines = [.. engines];

    /// <summary>A chain with no engines: everything is allowed.</summary>
    public static RbacEngineChain Empty { get; } = new([]);

    public int Count => _engines.Length;

    public RbacDecision Evaluate(in RbacRequest request)
    {
        var last = RbacDecision.Allow;
        foreach (var engine in _engines)
        {
            var decision = engine.Evaluate(request);
            if (!decision.IsAllowed)
            {
                return decision;
            }

            if (decision.PolicyName is not null)
            {
                last = decision;
            }
        }

        return last;
    }
}
