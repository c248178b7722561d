using Envoy.Config.Core.V3;
using Envoy.Config.Route.V3;
using Envoy.Type.Matcher.V3;
using Mesh.ControlPlane.Model;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// The parts of a route rule beyond where it forwards, as Istio writes them into xDS: redirect and direct response
/// actions, path and authority rewrites, header changes (route and destination level) and request mirrors.
/// </summary>
internal static class RouteRuleActions
{
    /// <summary>Envoy's redirect codes by HTTP status.</summary>
    public static RedirectAction.Types.RedirectResponseCode RedirectCode(int status) => status switch
    {
        302 => RedirectAction.Types.RedirectResponseCode.Found,
        303 => RedirectAction.Types.RedirectResponseCode.SeeOther,
        307 => RedirectAction.Types.RedirectResponseCode.TemporaryRedirect,
        308 => RedirectAction.Types.RedirectResponseCode.PermanentRedirect,
        _ => RedirectAction.Types.RedirectResponseCode.MovedPermanently,
    };

    public static RedirectAction Redirect(RedirectPolicy policy)
    {
        var action = new RedirectAction { ResponseCode = RedirectCode(policy.Code) };
        if (policy.Uri is { } uri)
        {
            action.PathRedirect = uri;
        }

        if (policy.Authority is { } authority)
        {
            action.HostRedirect = authority;
        }

        if (policy.Port is { } port)
        {
            action.PortRedirect = (uint)port;
        }

        if (policy.Scheme is { } scheme)
        {
            action.SchemeRedirect = scheme;
        }

        return action;
    }

    public static DirectResponseAction DirectResponse(DirectResponsePolicy policy)
    {
        var action = new DirectResponseAction { Status = (uint)policy.Status };
        if (policy.Body is { } body)
        {
            action.Body = new DataSource { InlineString = body };
        }

        return action;
    }

    /// <summary>Sets <paramref name="action"/>'s rewrite for a route whose path condition is <paramref name="uri"/>.</summary>
    public static void Rewrite(RouteAction action, RewritePolicy policy, StringCondition? uri)
    {
        if (policy.Uri is { } replacement)
        {
            if (uri is { Kind: StringMatchKind.Exact })
            {
                // An exact match rewrites the whole path, as Istio does.
                action.RegexRewrite = new RegexMatchAndSubstitute { Pattern = new RegexMatcher { Regex = ".*" }, Substitution = replacement };
            }
            else
            {
                action.PrefixRewrite = replacement;
            }
        }
        else if (policy.UriRegex is { } pattern)
        {
            action.RegexRewrite = new RegexMatchAndSubstitute { Pattern = new RegexMatcher { Regex = pattern }, Substitution = policy.UriRegexSubstitution ?? string.Empty };
        }

        if (policy.Authority is { } authority)
        {
            action.HostRewriteLiteral = authority;
        }
    }

    /// <summary>Adds <paramref name="headers"/>' changes to a route.</summary>
    public static void Headers(Route route, HeaderManipulation? headers)
    {
        if (headers is null)
        {
            return;
        }

        Add(route.RequestHeadersToAdd, headers.Request);
        route.RequestHeadersToRemove.Add(headers.Request.Remove);
        Add(route.ResponseHeadersToAdd, headers.Response);
        route.ResponseHeadersToRemove.Add(headers.Response.Remove);
    }

    /// <summary>Adds <paramref name="headers"/>' changes to one destination of a weighted split.</summary>
    public static void Headers(WeightedCluster.Types.ClusterWeight cluster, HeaderManipulation? headers)
    {
        if (headers is null)
        {
            return;
        }

        Add(cluster.RequestHeadersToAdd, headers.Request);
        cluster.RequestHeadersToRemove.Add(headers.Request.Remove);
        Add(cluster.ResponseHeadersToAdd, headers.Response);
        cluster.ResponseHeadersToRemove.Add(headers.Response.Remove);
    }

    private static void Add(Google.Protobuf.Collections.RepeatedField<HeaderValueOption> into, HeaderOperations operations)
    {
        foreach (var (key, value) in operations.Set)
        {
            into.Add(new HeaderValueOption
            {
                Header = new HeaderValue { Key = key, Value = value },
                AppendAction = HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd,
            });
        }

        foreach (var (key, value) in operations.Add)
        {
            into.Add(new HeaderValueOption
            {
                Header = new HeaderValue { Key = key, Value = value },
                AppendAction = HeaderValueOption.Types.HeaderAppendAction.AppendIfExistsOrAdd,
            });
        }
    }
}
