using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Envoy.Config.Core.V3;
using Envoy.Config.Route.V3;

namespace Mesh.Client.Routing.RouteActions;

/// <summary>
/// Decodes the parts of a route the HttpClient path applies beyond its clusters (<see cref="HttpRouteActions"/>), with
/// Envoy's rules: a direct response status in 200–599, a rewrite pattern that compiles as a linear-time regex, header
/// names that are not pseudo-headers. An error names the field; the route configuration is then NACKed.
/// </summary>
internal static class HttpRouteActionsDecoder
{
    /// <summary>The route's actions, null when it has none, or null with <paramref name="field"/> and <paramref name="error"/> set.</summary>
    public static HttpRouteActions? Decode(Route route, out string? field, out string? error)
    {
        field = null;
        error = null;
        var actions = new HttpRouteActions();
        var any = false;
        switch (route.ActionCase)
        {
            case Route.ActionOneofCase.Redirect:
                actions = actions with { Redirect = DecodeRedirect(route.Redirect) };
                any = true;
                break;
            case Route.ActionOneofCase.DirectResponse:
                var status = route.DirectResponse.Status;
                if (status is < 200 or > 599)
                {
                    field = "direct_response.status";
                    error = $"{status} is not an HTTP status in 200-599";
                    return null;
                }

                string? body = null;
                if (route.DirectResponse.Body is { } source)
                {
                    body = source.SpecifierCase switch
                    {
                        DataSource.SpecifierOneofCase.InlineString => source.InlineString,
                        DataSource.SpecifierOneofCase.InlineBytes => source.InlineBytes.ToStringUtf8(),
                        _ => null,
                    };
                    if (body is null)
                    {
                        field = "direct_response.body";
                        error = "only inline_string and inline_bytes are supported";
                        return null;
                    }
                }

                actions = actions with { DirectStatus = (int)status, DirectBody = body };
                any = true;
                break;
            case Route.ActionOneofCase.Route_:
                var rewrite = DecodeRewrite(route.Route_, out field, out error);
                if (error is not null)
                {
                    return null;
                }

                if (rewrite is not null)
                {
                    actions = actions with { Rewrite = rewrite };
                    any = true;
                }

                var mirrors = ImmutableArray.CreateBuilder<MirrorTarget>();
                for (var i = 0; i < route.Route_.RequestMirrorPolicies.Count; i++)
                {
                    var mirror = route.Route_.RequestMirrorPolicies[i];
                    if (string.IsNullOrEmpty(mirror.Cluster))
                    {
                        field = $"route.request_mirror_policies[{i}].cluster";
                        error = "is required";
                        return null;
                    }

                    mirrors.Add(new MirrorTarget(mirror.Cluster, PerMillion(mirror.RuntimeFraction?.DefaultValue)));
                }

                if (mirrors.Count > 0)
                {
                    actions = actions with { Mirrors = mirrors.ToImmutable() };
                    any = true;
                }

                var perCluster = ImmutableDictionary.CreateBuilder<string, (HeaderChanges, HeaderChanges)>(StringComparer.Ordinal);
                if (route.Route_.WeightedClusters is { } weighted)
                {
                    for (var i = 0; i < weighted.Clusters.Count; i++)
                    {
                        var cluster = weighted.Clusters[i];
                        var at = $"route.weighted_clusters.clusters[{i}]";
                        var request = Changes(cluster.RequestHeadersToAdd, cluster.RequestHeadersToRemove, at + ".request_headers_to", out field, out error);
                        var response = Changes(cluster.ResponseHeadersToAdd, cluster.ResponseHeadersToRemove, at + ".response_headers_to", out var responseField, out var responseError);
                        if (request is null || response is null)
                        {
                            field ??= responseField;
                            error ??= responseError;
                            return null;
                        }

                        if (!request.IsEmpty || !response.IsEmpty)
                        {
                            perCluster[cluster.Name] = (request, response);
                        }
                    }
                }

                if (perCluster.Count > 0)
                {
                    actions = actions with { ClusterHeaders = perCluster.ToImmutable() };
                    any = true;
                }

                break;
        }

        var requestHeaders = Changes(route.RequestHeadersToAdd, route.RequestHeadersToRemove, "request_headers_to", out field, out error);
        var responseHeaders = Changes(route.ResponseHeadersToAdd, route.ResponseHeadersToRemove, "response_headers_to", out var routeResponseField, out var routeResponseError);
        if (requestHeaders is null || responseHeaders is null)
        {
            field ??= routeResponseField;
            error ??= routeResponseError;
            return null;
        }

        if (!requestHeaders.IsEmpty || !responseHeaders.IsEmpty)
        {
            actions = actions with { RequestHeaders = requestHeaders, ResponseHeaders = responseHeaders };
            any = true;
        }

        return any ? actions : null;
    }

    private static RedirectAnswer DecodeRedirect(RedirectAction redirect)
    {
        var status = redirect.ResponseCode switch
        {
            RedirectAction.Types.RedirectResponseCode.Found => 302,
            RedirectAction.Types.RedirectResponseCode.SeeOther => 303,
            RedirectAction.Types.RedirectResponseCode.TemporaryRedirect => 307,
            RedirectAction.Types.RedirectResponseCode.PermanentRedirect => 308,
            _ => 301,
        };
        var scheme = redirect.SchemeRewriteSpecifierCase switch
        {
            RedirectAction.SchemeRewriteSpecifierOneofCase.HttpsRedirect when redirect.HttpsRedirect => "https",
            RedirectAction.SchemeRewriteSpecifierOneofCase.SchemeRedirect when redirect.SchemeRedirect.Length > 0 => redirect.SchemeRedirect,
            _ => null,
        };
        return new RedirectAnswer(
            status,
            scheme,
            redirect.HostRedirect.Length > 0 ? redirect.HostRedirect : null,
            (int)redirect.PortRedirect,
            redirect.PathRewriteSpecifierCase == RedirectAction.PathRewriteSpecifierOneofCase.PathRedirect ? redirect.PathRedirect : null,
            redirect.PathRewriteSpecifierCase == RedirectAction.PathRewriteSpecifierOneofCase.PrefixRewrite ? redirect.PrefixRewrite : null,
            redirect.StripQuery);
    }

    private static PathRewrite? DecodeRewrite(RouteAction action, out string? field, out string? error)
    {
        field = null;
        error = null;
        var authority = action.HostRewriteSpecifierCase == RouteAction.HostRewriteSpecifierOneofCase.HostRewriteLiteral && action.HostRewriteLiteral.Length > 0
            ? action.HostRewriteLiteral
            : null;
        if (action.RegexRewrite is { } regex)
        {
            if (!string.IsNullOrEmpty(action.PrefixRewrite))
            {
                field = "route.regex_rewrite";
                error = "cannot be combined with prefix_rewrite";
                return null;
            }

            try
            {
                // Linear time like RE2: no pattern can stall a call.
                var pattern = new Regex(regex.Pattern?.Regex ?? string.Empty, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
                return new PathRewrite(null, pattern, PathRewrite.ToDotNetSubstitution(regex.Substitution), authority);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                field = "route.regex_rewrite.pattern.regex";
                error = $"'{regex.Pattern?.Regex}' is not a supported regex: {ex.Message}";
                return null;
            }
        }

        if (!string.IsNullOrEmpty(action.PrefixRewrite) || authority is not null)
        {
            return new PathRewrite(string.IsNullOrEmpty(action.PrefixRewrite) ? null : action.PrefixRewrite, null, null, authority);
        }

        return null;
    }

    private static HeaderChanges? Changes(Google.Protobuf.Collections.RepeatedField<HeaderValueOption> add, Google.Protobuf.Collections.RepeatedField<string> remove, string at, out string? field, out string? error)
    {
        field = null;
        error = null;
        if (add.Count == 0 && remove.Count == 0)
        {
            return HeaderChanges.None;
        }

        var set = ImmutableArray.CreateBuilder<HeaderChange>(add.Count);
        for (var i = 0; i < add.Count; i++)
        {
            var name = add[i].Header?.Key ?? string.Empty;
            if (name.Length == 0 || name[0] == ':' || name.Equals("host", StringComparison.OrdinalIgnoreCase))
            {
                field = $"{at}_add[{i}].header.key";
                error = $"'{name}' cannot be changed (empty, a pseudo-header or host)";
                return null;
            }

            var mode = add[i].AppendAction switch
            {
                HeaderValueOption.Types.HeaderAppendAction.AddIfAbsent => HeaderChangeMode.AddIfAbsent,
                HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd => HeaderChangeMode.Overwrite,
                HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExists => HeaderChangeMode.OverwriteIfExists,
                _ => HeaderChangeMode.Append,
            };
            set.Add(new HeaderChange(name, add[i].Header!.Value, mode));
        }

        return new HeaderChanges(set.ToImmutable(), [.. remove]);
    }

    private static uint PerMillion(Envoy.Type.V3.FractionalPercent? percent)
    {
        if (percent is null)
        {
            return 1_000_000;
        }

        ulong scale = percent.Denominator switch
        {
            Envoy.Type.V3.FractionalPercent.Types.DenominatorType.Hundred => 10_000,
            Envoy.Type.V3.FractionalPercent.Types.DenominatorType.TenThousand => 100,
            _ => 1,
        };
        return (uint)Math.Min(1_000_000UL, percent.Numerator * scale);
    }
}
