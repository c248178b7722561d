using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.GatewayApi;

internal sealed partial class GatewayApiConverter
{
    private static readonly int[] RedirectCodes = [301, 302, 303, 307, 308];

    /// <summary>What a rule's filters and backends became: the Istio route without its match, and the path changes that depend on the match.</summary>
    private sealed record RuleTemplate(JsonObject Http, PathModifierSpec? RewritePath, PathModifierSpec? RedirectPath);

    // ---- HTTPRoute -----------------------------------------------------------------------------------------

    private RouteCompilation CompileHttp(RouteSource route, HttpRouteSpec spec)
    {
        var compiled = new RouteCompilation();
        var rules = spec.Rules is { Count: > 0 } written ? written : [new HttpRouteRuleSpec()];
        for (var i = 0; i < rules.Count && compiled.Unsupported is null; i++)
        {
            var rule = rules[i];
            var field = $"spec.rules[{Text(i)}]";
            if (rule.Retry is not null)
            {
                compiled.Refuse(field + ".retry", "retries of the Gateway API are not applied by Mesh; use a VirtualService");
            }

            if (rule.SessionPersistence is not null)
            {
                compiled.Refuse(field + ".sessionPersistence", "session persistence is not applied by Mesh; use a DestinationRule consistentHash");
            }

            if (rule.Timeouts?.BackendRequest is not null)
            {
                compiled.Refuse(field + ".timeouts.backendRequest", "a per-attempt timeout is not applied by Mesh to Gateway API routes; set timeouts.request");
            }

            if (CompileRule(route, field, rule.Filters, rule.BackendRefs, grpc: false, compiled) is not { } template)
            {
                continue;
            }

            if (rule.Timeouts?.Request is { } timeout)
            {
                if (!IstioDuration.TryParse(timeout, out var duration))
                {
                    compiled.Refuse(field + ".timeouts.request", $"'{timeout}' is not a duration");
                    continue;
                }

                if (duration > TimeSpan.Zero)
                {
                    template.Http["timeout"] = timeout;
                }
            }

            var matches = rule.Matches is { Count: > 0 } m ? m : [new HttpRouteMatchSpec()];
            for (var j = 0; j < matches.Count && compiled.Unsupported is null; j++)
            {
                AddHttpMatch(route, i, j, $"{field}.matches[{Text(j)}]", matches[j], template, compiled);
            }
        }

        return compiled;
    }

    private void AddHttpMatch(RouteSource route, int rule, int index, string field, HttpRouteMatchSpec match, RuleTemplate template, RouteCompilation compiled)
    {
        var common = new JsonObject();
        if (!AddValueMatches(common, "headers", match.Headers, field + ".headers", lowerCase: true, compiled)
            || !AddValueMatches(common, "queryParams", match.QueryParams, field + ".queryParams", lowerCase: false, compiled))
        {
            return;
        }

        if (match.Method is { } method)
        {
            common["method"] = new JsonObject { ["exact"] = method };
        }

        var type = match.Path?.Type ?? "PathPrefix";
        var value = match.Path?.Value ?? "/";
        if (!value.StartsWith('/'))
        {
            compiled.Refuse(field + ".path.value", $"'{value}' must start with '/'");
            return;
        }

        // The Istio matches this path match becomes, each with the rewrite of its part of the path.
        var pieces = new List<(JsonObject Uri, string Kind)>();
        int rank;
        switch (type)
        {
            case "Exact":
                rank = 3;
                pieces.Add((new JsonObject { ["exact"] = value }, "exact"));
                break;
            case "RegularExpression":
                rank = 2;
                if (CheckRegex(value) is { } bad)
                {
                    compiled.Refuse(field + ".path.value", bad);
                    return;
                }

                pieces.Add((new JsonObject { ["regex"] = value }, "regex"));
                break;
            case "PathPrefix":
                rank = 1;
                value = value == "/" ? value : value.TrimEnd('/');
                if (value == "/")
                {
                    pieces.Add((new JsonObject { ["prefix"] = "/" }, "prefix"));
                }
                else
                {
                    // The Gateway API's prefix matches whole segments: /foo matches /foo and /foo/bar, not /foobar.
                    pieces.Add((new JsonObject { ["exact"] = value }, "exact"));
                    pieces.Add((new JsonObject { ["prefix"] = value + "/" }, "prefix"));
                }

                break;
            default:
                compiled.Refuse(field + ".path.type", $"'{type}' is not one of Exact, PathPrefix, RegularExpression");
                return;
        }

        var order = new MatchOrder(rank, value.Length, match.Method is null ? 0 : 1, match.Headers?.Count ?? 0, match.QueryParams?.Count ?? 0);
        for (var k = 0; k < pieces.Count; k++)
        {
            var (uri, kind) = pieces[k];
            var matchJson = (JsonObject)common.DeepClone();
            matchJson["uri"] = uri;
            var http = (JsonObject)template.Http.DeepClone();
            http["match"] = new JsonArray(matchJson);
            if (!ApplyPathModifiers(http, template, type, kind, field, compiled))
            {
                return;
            }

            compiled.Entries.Add(new RouteEntry(route, rule, index, k, order, http));
        }
    }

    /// <summary>Sets the rewrite or redirect path of one Istio route, which depends on the part of the path it matched.</summary>
    private static bool ApplyPathModifiers(JsonObject http, RuleTemplate template, string pathType, string piece, string field, RouteCompilation compiled)
    {
        if (template.RewritePath is { } rewrite)
        {
            var target = (JsonObject)(http["rewrite"] ??= new JsonObject());
            switch (rewrite.Type)
            {
                case "ReplaceFullPath" when rewrite.ReplaceFullPath is { } full:
                    target["uriRegexRewrite"] = new JsonObject { ["match"] = "^/.*$", ["rewrite"] = full };
                    break;
                case "ReplacePrefixMatch" when rewrite.ReplacePrefixMatch is { } prefix:
                    if (pathType != "PathPrefix")
                    {
                        compiled.Refuse(field + ".path", "URLRewrite ReplacePrefixMatch needs a PathPrefix match");
                        return false;
                    }

                    // An exact match rewrites the whole path; the "/foo/" prefix is replaced by the new prefix with its slash.
                    target["uri"] = piece == "exact" ? prefix : prefix.TrimEnd('/') + "/";
                    break;
                default:
                    compiled.Refuse(field, $"URLRewrite path type '{rewrite.Type}' needs its matching value (ReplaceFullPath or ReplacePrefixMatch)");
                    return false;
            }
        }

        if (template.RedirectPath is { } redirect)
        {
            var target = (JsonObject)http["redirect"]!;
            switch (redirect.Type)
            {
                case "ReplaceFullPath" when redirect.ReplaceFullPath is { } full:
                    target["uri"] = full;
                    break;
                case "ReplacePrefixMatch" when redirect.ReplacePrefixMatch is { } prefix && pathType == "Exact":
                    target["uri"] = prefix;
                    break;
                case "ReplacePrefixMatch":
                    compiled.Refuse(field + ".path", "a RequestRedirect that replaces a path prefix is not served by Mesh; match the path exactly or use ReplaceFullPath");
                    return false;
                default:
                    compiled.Refuse(field, $"RequestRedirect path type '{redirect.Type}' needs its matching value");
                    return false;
            }
        }

        return true;
    }

    // ---- GRPCRoute -----------------------------------------------------------------------------------------

    private RouteCompilation CompileGrpc(RouteSource route, GrpcRouteSpec spec)
    {
        var compiled = new RouteCompilation();
        var rules = spec.Rules is { Count: > 0 } written ? written : [new GrpcRouteRuleSpec()];
        for (var i = 0; i < rules.Count && compiled.Unsupported is null; i++)
        {
            var rule = rules[i];
            var field = $"spec.rules[{Text(i)}]";
            if (rule.SessionPersistence is not null)
            {
                compiled.Refuse(field + ".sessionPersistence", "session persistence is not applied by Mesh; use a DestinationRule consistentHash");
            }

            if (CompileRule(route, field, rule.Filters, rule.BackendRefs, grpc: true, compiled) is not { } template)
            {
                continue;
            }

            var matches = rule.Matches is { Count: > 0 } m ? m : [new GrpcRouteMatchSpec()];
            for (var j = 0; j < matches.Count && compiled.Unsupported is null; j++)
            {
                var matchField = $"{field}.matches[{Text(j)}]";
                var match = matches[j];
                var matchJson = new JsonObject();
                if (!AddValueMatches(matchJson, "headers", match.Headers, matchField + ".headers", lowerCase: true, compiled))
                {
                    break;
                }

                if (GrpcPath(match.Method, matchField + ".method", compiled) is not { } path)
                {
                    break;
                }

                matchJson["uri"] = path.Uri;
                var http = (JsonObject)template.Http.DeepClone();
                http["match"] = new JsonArray(matchJson);
                compiled.Entries.Add(new RouteEntry(route, i, j, 0, new MatchOrder(path.Rank, path.Length, 0, match.Headers?.Count ?? 0, 0), http));
            }
        }

        return compiled;
    }

    /// <summary>A gRPC method match as a match of the request path <c>/service/method</c>.</summary>
    private static (JsonObject Uri, int Rank, int Length)? GrpcPath(GrpcMethodMatchSpec? method, string field, RouteCompilation compiled)
    {
        if (method is null || (method.Service is null && method.Method is null))
        {
            return (new JsonObject { ["prefix"] = "/" }, 0, 0);
        }

        var service = method.Service;
        var name = method.Method;
        switch (method.Type ?? "Exact")
        {
            case "Exact":
                if (service is not null && name is not null)
                {
                    return (new JsonObject { ["exact"] = $"/{service}/{name}" }, 3, service.Length + name.Length);
                }

                if (service is not null)
                {
                    return (new JsonObject { ["prefix"] = $"/{service}/" }, 1, service.Length);
                }

                return (new JsonObject { ["regex"] = $"/[^/]+/{Regex.Escape(name!)}" }, 2, name!.Length);
            case "RegularExpression":
                foreach (var part in new[] { service, name })
                {
                    if (part is not null && CheckRegex(part) is { } bad)
                    {
                        compiled.Refuse(field, bad);
                        return null;
                    }
                }

                return (new JsonObject { ["regex"] = $"/{service ?? "[^/]+"}/{name ?? "[^/]+"}" }, 2, (service?.Length ?? 0) + (name?.Length ?? 0));
            default:
                compiled.Refuse(field + ".type", $"'{method.Type}' is not one of Exact, RegularExpression");
                return null;
        }
    }

    // ---- shared by both kinds ------------------------------------------------------------------------------

    /// <summary>A rule's filters and backends as an Istio route without its match; null (and the route refused) when they cannot be honoured.</summary>
    private RuleTemplate? CompileRule(RouteSource route, string field, List<RouteFilterSpec>? filters, List<BackendRefSpec>? backendRefs, bool grpc, RouteCompilation compiled)
    {
        var http = new JsonObject { ["name"] = $"{route.Resource.Namespace}.{route.Resource.Name}.{field["spec.rules[".Length..^1]}" };
        var headers = new JsonObject();
        var mirrors = new JsonArray();
        PathModifierSpec? rewritePath = null;
        PathModifierSpec? redirectPath = null;
        JsonObject? rewrite = null;
        JsonObject? redirect = null;
        var list = filters ?? [];
        for (var i = 0; i < list.Count; i++)
        {
            var filter = list[i];
            var filterField = $"{field}.filters[{Text(i)}]";
            switch (filter.Type)
            {
                case "RequestHeaderModifier" when filter.RequestHeaderModifier is { } modifier:
                    headers["request"] = HeaderOperations(modifier);
                    break;
                case "ResponseHeaderModifier" when filter.ResponseHeaderModifier is { } modifier:
                    headers["response"] = HeaderOperations(modifier);
                    break;
                case "RequestMirror" when filter.RequestMirror is { } mirror:
                    if (mirror.BackendRef is not { } target)
                    {
                        compiled.Refuse(filterField + ".requestMirror.backendRef", "is required");
                        return null;
                    }

                    if (ResolveBackend(route, target.Group, target.Kind, target.Name, target.Namespace, target.Port, filterField + ".requestMirror.backendRef", compiled) is { } mirrored)
                    {
                        var percent = mirror.Percent is { } p ? p
                            : mirror.Fraction is { Numerator: { } numerator } fraction ? numerator * 100.0 / (fraction.Denominator ?? 100)
                            : 100.0;
                        mirrors.Add(new JsonObject { ["destination"] = Destination(mirrored), ["percentage"] = new JsonObject { ["value"] = percent } });
                    }

                    break;
                case "RequestRedirect" when !grpc && filter.RequestRedirect is { } spec:
                    if (spec.StatusCode is { } code && Array.IndexOf(RedirectCodes, code) < 0)
                    {
                        compiled.Refuse(filterField + ".requestRedirect.statusCode", $"{Text(code)} is not one of 301, 302, 303, 307, 308");
                        return null;
                    }

                    redirect = new JsonObject { ["redirectCode"] = spec.StatusCode ?? 302 };
                    if (spec.Scheme is { } scheme)
                    {
                        redirect["scheme"] = scheme;
                    }

                    if (spec.Hostname is { } hostname)
                    {
                        redirect["authority"] = hostname;
                    }

                    if (spec.Port is { } port)
                    {
                        redirect["port"] = port;
                    }

                    redirectPath = spec.Path;
                    break;
                case "URLRewrite" when !grpc && filter.UrlRewrite is { } spec:
                    rewrite = new JsonObject();
                    if (spec.Hostname is { } authority)
                    {
                        rewrite["authority"] = authority;
                    }

                    rewritePath = spec.Path;
                    break;
                default:
                    compiled.Refuse(filterField, $"filter type '{filter.Type}' is not applied by Mesh{(grpc ? " to GRPCRoutes" : string.Empty)} (it serves RequestHeaderModifier, ResponseHeaderModifier, RequestMirror{(grpc ? string.Empty : ", RequestRedirect, URLRewrite")}), so the route is refused rather than served without it");
                    return null;
            }
        }

        if (headers.Count > 0)
        {
            http["headers"] = headers;
        }

        if (redirect is not null)
        {
            if (backendRefs is { Count: > 0 } || rewrite is not null || mirrors.Count > 0)
            {
                compiled.Refuse(field, "a RequestRedirect answers the request, so it cannot be combined with backendRefs, URLRewrite or RequestMirror");
                return null;
            }

            http["redirect"] = redirect;
            return new RuleTemplate(http, null, redirectPath);
        }

        // Backends: the valid ones share the traffic by weight; the share of the invalid ones is answered with 500, as
        // the Gateway API asks, through a fault abort of that percentage.
        var destinations = new JsonArray();
        long validWeight = 0;
        long invalidWeight = 0;
        var backends = backendRefs ?? [];
        for (var i = 0; i < backends.Count; i++)
        {
            var backend = backends[i];
            var backendField = $"{field}.backendRefs[{Text(i)}]";
            var weight = backend.Weight ?? 1;
            if (weight < 0)
            {
                compiled.Refuse(backendField + ".weight", "must not be negative");
                return null;
            }

            JsonObject? backendHeaders = null;
            var backendFilters = backend.Filters ?? [];
            for (var j = 0; j < backendFilters.Count; j++)
            {
                var filter = backendFilters[j];
                switch (filter.Type)
                {
                    case "RequestHeaderModifier" when filter.RequestHeaderModifier is { } modifier:
                        (backendHeaders ??= new JsonObject())["request"] = HeaderOperations(modifier);
                        break;
                    case "ResponseHeaderModifier" when filter.ResponseHeaderModifier is { } modifier:
                        (backendHeaders ??= new JsonObject())["response"] = HeaderOperations(modifier);
                        break;
                    default:
                        compiled.Refuse($"{backendField}.filters[{Text(j)}]", $"filter type '{filter.Type}' is not applied by Mesh on a backendRef (it serves RequestHeaderModifier and ResponseHeaderModifier there)");
                        return null;
                }
            }

            if (ResolveBackend(route, backend.Group, backend.Kind, backend.Name, backend.Namespace, backend.Port, backendField, compiled) is not { } resolved)
            {
                invalidWeight += weight;
                continue;
            }

            if (weight == 0)
            {
                continue;
            }

            validWeight += weight;
            var destination = new JsonObject { ["destination"] = Destination(resolved), ["weight"] = weight };
            if (backendHeaders is not null)
            {
                destination["headers"] = backendHeaders;
            }

            destinations.Add(destination);
        }

        if (destinations.Count == 0)
        {
            // Nothing to forward to (no backendRefs, or none valid): answered with 500, as the Gateway API asks.
            http["directResponse"] = new JsonObject { ["status"] = 500 };
            return new RuleTemplate(http, null, null);
        }

        http["route"] = destinations;
        if (invalidWeight > 0)
        {
            http["fault"] = new JsonObject
            {
                ["abort"] = new JsonObject
                {
                    ["httpStatus"] = 500,
                    ["percentage"] = new JsonObject { ["value"] = Math.Round(invalidWeight * 100.0 / (validWeight + invalidWeight), 4) },
                },
            };
        }

        if (rewrite is not null && (rewrite.Count > 0 || rewritePath is not null))
        {
            http["rewrite"] = rewrite;
        }

        if (mirrors.Count > 0)
        {
            http["mirrors"] = mirrors;
        }

        return new RuleTemplate(http, rewritePath, null);
    }

    /// <summary>
    /// The Service a backendRef names, when it is a Service that exists, has the port, and is in the route's namespace or
    /// one whose ReferenceGrant allows it; otherwise null, with the reason recorded for ResolvedRefs.
    /// </summary>
    private (string Host, int Port)? ResolveBackend(RouteSource route, string? group, string? kind, string? name, string? @namespace, int? port, string field, RouteCompilation compiled)
    {
        group ??= string.Empty;
        kind ??= "Service";
        var ns = @namespace ?? route.Resource.Namespace;
        name ??= string.Empty;
        if (group.Length != 0 || kind != "Service")
        {
            compiled.Unresolve(GatewayConditions.InvalidKind, $"{field}: {(group.Length == 0 ? "core" : group)}/{kind} is not a kind Mesh routes to; name a Service");
            return null;
        }

        if (!_grants.Allows(GatewayApiNames.Group, route.Resource.Kind, route.Resource.Namespace, string.Empty, "Service", ns, name))
        {
            compiled.Unresolve(GatewayConditions.RefNotPermitted, $"{field}: Service {ns}/{name} is in another namespace and no ReferenceGrant in {ns} allows {route.Resource.Kind}s from {route.Resource.Namespace} to refer to it");
            return null;
        }

        if (!_services.TryGetValue((ns, name), out var service))
        {
            compiled.Unresolve(GatewayConditions.BackendNotFound, $"{field}: Service {ns}/{name} does not exist");
            return null;
        }

        if (port is not { } number)
        {
            compiled.Unresolve(GatewayConditions.BackendNotFound, $"{field}: port is required for a Service");
            return null;
        }

        if (!service.Ports.Contains(number))
        {
            compiled.Unresolve(GatewayConditions.BackendNotFound, $"{field}: Service {ns}/{name} has no port {Text(number)}");
            return null;
        }

        return (service.Host, number);
    }

    private static JsonObject Destination((string Host, int Port) backend) =>
        new() { ["host"] = backend.Host, ["port"] = new JsonObject { ["number"] = backend.Port } };

    private static JsonObject HeaderOperations(HeaderFilterSpec spec)
    {
        var operations = new JsonObject();
        if (spec.Set is { Count: > 0 } set)
        {
            var values = new JsonObject();
            foreach (var header in set)
            {
                values[header.Name ?? string.Empty] = header.Value ?? string.Empty;
            }

            operations["set"] = values;
        }

        if (spec.Add is { Count: > 0 } add)
        {
            var values = new JsonObject();
            foreach (var header in add)
            {
                values[header.Name ?? string.Empty] = header.Value ?? string.Empty;
            }

            operations["add"] = values;
        }

        if (spec.Remove is { Count: > 0 } remove)
        {
            operations["remove"] = new JsonArray([.. remove.Select(static r => (JsonNode)r)]);
        }

        return operations;
    }

    /// <summary>Adds header or query parameter matches; the first of two with one name wins, as the Gateway API says.</summary>
    private static bool AddValueMatches(JsonObject into, string property, List<ValueMatchSpec>? matches, string field, bool lowerCase, RouteCompilation compiled)
    {
        if (matches is not { Count: > 0 })
        {
            return true;
        }

        var values = new JsonObject();
        for (var i = 0; i < matches.Count; i++)
        {
            var match = matches[i];
            var name = lowerCase ? match.Name?.ToLowerInvariant() : match.Name;
            if (string.IsNullOrEmpty(name) || values.ContainsKey(name))
            {
                continue;
            }

            var value = match.Value ?? string.Empty;
            switch (match.Type ?? "Exact")
            {
                case "Exact":
                    values[name] = new JsonObject { ["exact"] = value };
                    break;
                case "RegularExpression":
                    if (CheckRegex(value) is { } bad)
                    {
                        compiled.Refuse($"{field}[{Text(i)}].value", bad);
                        return false;
                    }

                    values[name] = new JsonObject { ["regex"] = value };
                    break;
                default:
                    compiled.Refuse($"{field}[{Text(i)}].type", $"'{match.Type}' is not one of Exact, RegularExpression");
                    return false;
            }
        }

        into[property] = values;
        return true;
    }

    private static string? CheckRegex(string pattern)
    {
        if (Re2Syntax.Check(pattern) is { } notRe2)
        {
            return $"'{pattern}' is not RE2 syntax: {notRe2}";
        }

        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            return null;
        }
        catch (ArgumentException ex)
        {
            return $"'{pattern}' is not a valid regular expression: {ex.Message}";
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
