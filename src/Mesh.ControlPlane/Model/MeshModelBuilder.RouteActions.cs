using System.Collections.Immutable;
using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.Model;

// The parts of a VirtualService rule beyond matching and splitting: redirect, directResponse, rewrite, header
// changes, mirrors, CORS, and delegation to a host-less VirtualService.
public sealed partial class MeshModelBuilder
{
    private static readonly int[] RedirectCodes = [301, 302, 303, 307, 308];

    private HeaderManipulation? BuildHeaders(ConfigResource resource, string field, HeadersSpec spec)
    {
        var manipulation = new HeaderManipulation(
            BuildHeaderOperations(resource, field + ".request", spec.Request),
            BuildHeaderOperations(resource, field + ".response", spec.Response));
        return manipulation.Request.IsEmpty && manipulation.Response.IsEmpty ? null : manipulation;
    }

    private HeaderOperations BuildHeaderOperations(ConfigResource resource, string field, HeaderOperationsSpec? spec)
    {
        if (spec is null)
        {
            return HeaderOperations.None;
        }

        foreach (var name in (spec.Set?.Keys ?? Enumerable.Empty<string>()).Concat(spec.Add?.Keys ?? Enumerable.Empty<string>()).Concat(spec.Remove ?? []))
        {
            if (string.IsNullOrEmpty(name) || name.Any(c => c is <= ' ' or >= (char)127 or ':' && name[0] != ':'))
            {
                Error(resource, field, $"'{name}' is not a valid header name" + SchemaError);
            }
        }

        return new HeaderOperations
        {
            Set = [.. (spec.Set ?? []).OrderBy(p => p.Key, StringComparer.Ordinal)],
            Add = [.. (spec.Add ?? []).OrderBy(p => p.Key, StringComparer.Ordinal)],
            Remove = [.. spec.Remove ?? []],
        };
    }

    private RedirectPolicy? BuildRedirect(ConfigResource resource, string field, HttpRedirect spec)
    {
        var code = (int)(spec.RedirectCode ?? 301);
        if (Array.IndexOf(RedirectCodes, code) < 0)
        {
            Error(resource, field + ".redirectCode", $"{code} is not one of 301, 302, 303, 307, 308" + SchemaError);
            return null;
        }

        if (spec.Port is { } port && port is not (> 0 and <= 65535))
        {
            Error(resource, field + ".port", $"must be between 1 and 65535, not {port}" + SchemaError);
            return null;
        }

        if (spec.DerivePort is not null)
        {
            Warn(resource, field + ".derivePort", "is applied by proxies only; proxyless clients keep the request's port");
        }

        if (spec.Authority is { } authority && IstioNames.CheckHost(authority.Split(':')[0], allowWildcard: false) is { } bad)
        {
            Error(resource, field + ".authority", bad + SchemaError);
            return null;
        }

        return new RedirectPolicy { Uri = spec.Uri, Authority = spec.Authority, Port = spec.Port is { } p ? (int)p : null, Scheme = spec.Scheme, Code = code };
    }

    private DirectResponsePolicy? BuildDirectResponse(ConfigResource resource, string field, HttpDirectResponse spec)
    {
        if (spec.Status is not { } status || status is < 200 or > 599)
        {
            Error(resource, field + ".status", $"must be an HTTP status between 200 and 599, not {spec.Status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unset"}" + SchemaError);
            return null;
        }

        string? body = null;
        if (spec.Body is { } b)
        {
            if (b.String is not null && b.Bytes is not null)
            {
                Error(resource, field + ".body", "set string or bytes, not both" + SchemaError);
                return null;
            }

            if (b.Bytes is { } bytes)
            {
                try
                {
                    body = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(bytes));
                }
                catch (FormatException)
                {
                    Error(resource, field + ".body.bytes", "is not base64" + SchemaError);
                    return null;
                }
            }
            else
            {
                body = b.String;
            }
        }

        return new DirectResponsePolicy((int)status, body);
    }

    private RewritePolicy? BuildRewrite(ConfigResource resource, string field, HttpRewrite spec)
    {
        if (spec.Uri is not null && spec.UriRegexRewrite is not null)
        {
            Error(resource, field, "set uri or uriRegexRewrite, not both" + SchemaError);
            return null;
        }

        if (spec.UriRegexRewrite is { } regex)
        {
            if (string.IsNullOrEmpty(regex.Match) || regex.Rewrite is null)
            {
                Error(resource, field + ".uriRegexRewrite", "match and rewrite are both required" + SchemaError);
                return null;
            }

            if (Re2Syntax.Check(regex.Match) is { } notRe2)
            {
                Error(resource, field + ".uriRegexRewrite.match", $"'{regex.Match}' is not RE2 syntax: {notRe2}" + SchemaError);
                return null;
            }
        }

        if (spec.Authority is { } authority && IstioNames.CheckHost(authority.Split(':')[0], allowWildcard: false) is { } bad)
        {
            Error(resource, field + ".authority", bad + SchemaError);
            return null;
        }

        return new RewritePolicy { Uri = spec.Uri, UriRegex = spec.UriRegexRewrite?.Match, UriRegexSubstitution = spec.UriRegexRewrite?.Rewrite, Authority = spec.Authority };
    }

    private ImmutableArray<MirrorPolicy> BuildMirrors(
        ConfigResource resource,
        string field,
        HttpRoute route,
        ImmutableDictionary<string, MeshService> services,
        ImmutableDictionary<string, DestinationPolicy> policies)
    {
        if (route.Mirror is not null && route.Mirrors is not null)
        {
            Error(resource, field + ".mirrors", "set mirror or mirrors, not both" + SchemaError);
            return [];
        }

        var result = ImmutableArray.CreateBuilder<MirrorPolicy>();
        if (route.Mirror is { } mirror)
        {
            // Istio's default mirror percentage is 100.
            var percent = route.MirrorPercentage is not null ? Percentage(resource, field + ".mirrorPercentage", route.MirrorPercentage, null, "mirrored")
                : route.MirrorPercent is { } legacy ? legacy : 100;
            if (ResolveDestination(resource, field + ".mirror", mirror, services, policies) is { } destination)
            {
                result.Add(new MirrorPolicy(destination, percent));
            }
        }

        for (var i = 0; i < (route.Mirrors?.Count ?? 0); i++)
        {
            var item = route.Mirrors![i];
            var itemField = $"{field}.mirrors[{i}]";
            if (item.Destination is null)
            {
                Error(resource, itemField + ".destination", "is required" + SchemaError);
                continue;
            }

            var percent = item.Percentage is null ? 100 : Percentage(resource, itemField, item.Percentage, null, "mirrored");
            if (ResolveDestination(resource, itemField + ".destination", item.Destination, services, policies) is { } destination)
            {
                result.Add(new MirrorPolicy(destination, percent));
            }
        }

        return result.ToImmutable();
    }

    private WeightedDestination? ResolveDestination(
        ConfigResource resource,
        string field,
        Destination destination,
        ImmutableDictionary<string, MeshService> services,
        ImmutableDictionary<string, DestinationPolicy> policies)
    {
        if (destination.Host is not { Length: > 0 } name)
        {
            Error(resource, field + ".host", "is required");
            return null;
        }

        if (IstioNames.CheckHost(name, allowWildcard: false) is { } badHost)
        {
            Error(resource, field + ".host", badHost + SchemaError);
            return null;
        }

        var host = HostNames.Resolve(name, resource.Namespace, _clusterDomain, services.ContainsKey);
        if (host is null)
        {
            Error(resource, field + ".host", $"unknown host '{name}': no ServiceEntry or Service declares it" + ReferenceError);
            return null;
        }

        if (destination.Subset is { } subset && (!policies.TryGetValue(host, out var policy) || policy.FindSubset(subset) is null))
        {
            Error(resource, field + ".subset", $"unknown subset '{subset}' of host '{host}': no DestinationRule defines it" + ReferenceError);
            return null;
        }

        if (destination.Port?.Number is { } number && services[host].FindPort((int)number) is null)
        {
            Error(resource, field + ".port.number", $"host '{host}' has no port {number}" + ReferenceError);
            return null;
        }

        return new WeightedDestination(host, destination.Subset, destination.Port?.Number is { } p ? (int)p : null, 100);
    }

    private CorsPolicyModel? BuildCors(ConfigResource resource, string field, CorsPolicySpec spec)
    {
        Warn(resource, field, "is served to proxies (Envoy) only: proxyless clients send no browser preflights, so it does not apply to them");
        var origins = ImmutableArray.CreateBuilder<StringCondition>();
        for (var i = 0; i < (spec.AllowOrigins?.Count ?? 0); i++)
        {
            if (BuildString(resource, $"{field}.allowOrigins[{i}]", spec.AllowOrigins![i]) is { } origin)
            {
                origins.Add(origin);
            }
        }

        foreach (var origin in spec.AllowOrigin ?? [])
        {
            origins.Add(new StringCondition(StringMatchKind.Exact, origin));
        }

        return new CorsPolicyModel
        {
            AllowOrigins = origins.ToImmutable(),
            AllowMethods = [.. spec.AllowMethods ?? []],
            AllowHeaders = [.. spec.AllowHeaders ?? []],
            ExposeHeaders = [.. spec.ExposeHeaders ?? []],
            MaxAge = spec.MaxAge is null ? null : Duration(resource, field + ".maxAge", spec.MaxAge),
            AllowCredentials = spec.AllowCredentials,
        };
    }

    /// <summary>
    /// The rules a delegating rule stands for: each rule of the delegate VirtualService, its matches narrowed by the
    /// delegating rule's (both must hold). A combination that cannot hold is left out, never widened. Istio delegates
    /// one level: a delegate that delegates again is an error, and so is a chain that comes back (a cycle).
    /// </summary>
    private List<HttpRouteRule> BuildDelegated(
        Parsed<VirtualServiceSpec> root,
        string field,
        HttpRoute route,
        ImmutableDictionary<string, MeshService> services,
        ImmutableDictionary<string, DestinationPolicy> policies,
        Dictionary<(string Namespace, string Name), Parsed<VirtualServiceSpec>> byName)
    {
        var resource = root.Resource;
        var target = route.Delegate!;
        if (route.Route is not null || route.Redirect is not null || route.DirectResponse is not null)
        {
            Error(resource, field + ".delegate", "route, redirect and directResponse cannot be set with delegate" + SchemaError);
            return [];
        }

        if (route.Rewrite is not null)
        {
            Error(resource, field + ".rewrite", "cannot be set on a delegating route: the delegate's own rules rewrite" + SchemaError);
            return [];
        }

        if (target.Name is not { Length: > 0 } name)
        {
            Error(resource, field + ".delegate.name", "is required" + SchemaError);
            return [];
        }

        var key = (target.Namespace ?? resource.Namespace, name);
        if (!byName.TryGetValue(key, out var child))
        {
            Error(resource, field + ".delegate", $"VirtualService {key.Item1}/{name} does not exist" + ReferenceError);
            return [];
        }

        if (child.Spec.Hosts is { Count: > 0 })
        {
            Error(resource, field + ".delegate", $"VirtualService {key.Item1}/{name} has hosts; a delegate must have none" + SchemaError);
            return [];
        }

        var childHttp = child.Spec.Http ?? [];
        for (var j = 0; j < childHttp.Count; j++)
        {
            if (childHttp[j].Delegate is { } next)
            {
                var nextKey = (next.Namespace ?? child.Resource.Namespace, next.Name ?? string.Empty);
                var cycle = nextKey == (resource.Namespace, resource.Name) || nextKey == key;
                Error(child.Resource, $"spec.http[{j}].delegate", cycle
                    ? $"delegation cycle: {resource.Namespace}/{resource.Name} → {key.Item1}/{name} → {nextKey.Item1}/{nextKey.Item2}" + SchemaError
                    : "a delegate VirtualService cannot delegate again (Istio delegates one level)" + SchemaError);
                return [];
            }
        }

        var rootMatches = ImmutableArray.CreateBuilder<RequestMatch>();
        for (var i = 0; i < (route.Match?.Count ?? 0); i++)
        {
            rootMatches.Add(BuildMatch(resource, $"{field}.match[{i}]", route.Match![i], root.Spec.Gateways));
        }

        var rules = new List<HttpRouteRule>();
        for (var j = 0; j < childHttp.Count; j++)
        {
            if (BuildRule(child.Resource, $"spec.http[{j}]", childHttp[j], services, policies, root.Spec.Gateways) is not { } rule)
            {
                continue;
            }

            if (rootMatches.Count == 0)
            {
                rules.Add(rule);
                continue;
            }

            var merged = ImmutableArray.CreateBuilder<RequestMatch>();
            foreach (var outer in rootMatches)
            {
                if (rule.Matches.IsEmpty)
                {
                    merged.Add(outer);
                    continue;
                }

                foreach (var inner in rule.Matches)
                {
                    if (Narrow(outer, inner) is { } both)
                    {
                        merged.Add(both);
                    }
                }
            }

            // A delegated rule none of whose matches can hold under the delegating rule is left out whole.
            if (merged.Count > 0)
            {
                rules.Add(rule with { Matches = merged.ToImmutable() });
            }
        }

        return rules;
    }

    /// <summary>The match that holds when both <paramref name="outer"/> and <paramref name="inner"/> do, or null when none can.</summary>
    private static RequestMatch? Narrow(RequestMatch outer, RequestMatch inner)
    {
        StringCondition? uri;
        if (outer.Uri is null || inner.Uri is null)
        {
            uri = inner.Uri ?? outer.Uri;
        }
        else if (outer.Uri.Kind == StringMatchKind.Prefix && inner.Uri.Kind is StringMatchKind.Prefix or StringMatchKind.Exact
            && inner.Uri.Value.StartsWith(outer.Uri.Value, StringComparison.Ordinal))
        {
            uri = inner.Uri;
        }
        else if (outer.Uri == inner.Uri)
        {
            uri = inner.Uri;
        }
        else
        {
            return null;
        }

        foreach (var header in inner.Headers)
        {
            foreach (var other in outer.Headers)
            {
                if (other.Name == header.Name && other != header)
                {
                    return null;
                }
            }
        }

        if ((outer.Port is { } a && inner.Port is { } b && a != b)
            || (outer.SourceNamespace is { } n1 && inner.SourceNamespace is { } n2 && n1 != n2)
            || (outer.Scheme is not null && inner.Scheme is not null && outer.Scheme != inner.Scheme))
        {
            return null;
        }

        var labels = outer.SourceLabels;
        foreach (var (key, value) in inner.SourceLabels ?? ImmutableDictionary<string, string>.Empty)
        {
            labels ??= ImmutableDictionary<string, string>.Empty;
            if (labels.TryGetValue(key, out var existing) && existing != value)
            {
                return null;
            }

            labels = labels.SetItem(key, value);
        }

        return new RequestMatch
        {
            Uri = uri,
            IgnoreUriCase = outer.IgnoreUriCase || inner.IgnoreUriCase,
            Headers = [.. outer.Headers, .. inner.Headers.Where(h => !outer.Headers.Contains(h))],
            Port = outer.Port ?? inner.Port,
            QueryParameters = [.. outer.QueryParameters, .. inner.QueryParameters],
            Scheme = outer.Scheme ?? inner.Scheme,
            SourceLabels = labels,
            SourceNamespace = outer.SourceNamespace ?? inner.SourceNamespace,
            Gateways = outer.Gateways,
        };
    }
}
