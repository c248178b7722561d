using System.Collections.Immutable;
using System.Net;

namespace Mesh.Client.Routing.RouteActions;

/// <summary>
/// What a route does to an HTTP request besides choosing a cluster, decoded once when the route configuration arrives:
/// answer it in-process (redirect, direct response), rewrite it, change its and its response's headers (the route's, and
/// each weighted cluster's), and mirror it. The HttpClient path applies all of it; null on a route with none of it.
/// </summary>
internal sealed record HttpRouteActions
{
    /// <summary>The redirect the route answers with, if it is a redirect route.</summary>
    public RedirectAnswer? Redirect { get; init; }

    /// <summary>The status a direct-response route answers with (0 when not one), and its body.</summary>
    public int DirectStatus { get; init; }

    /// <summary>The body of a direct response, if any.</summary>
    public string? DirectBody { get; init; }

    /// <summary>The rewrite of forwarded requests, if any.</summary>
    public PathRewrite? Rewrite { get; init; }

    /// <summary>The route's request header changes.</summary>
    public HeaderChanges RequestHeaders { get; init; } = HeaderChanges.None;

    /// <summary>The route's response header changes.</summary>
    public HeaderChanges ResponseHeaders { get; init; } = HeaderChanges.None;

    /// <summary>Each weighted cluster's own request and response header changes, applied after the route's (Envoy's order).</summary>
    public ImmutableDictionary<string, (HeaderChanges Request, HeaderChanges Response)> ClusterHeaders { get; init; } =
        ImmutableDictionary<string, (HeaderChanges Request, HeaderChanges Response)>.Empty;

    /// <summary>The clusters requests are mirrored to.</summary>
    public ImmutableArray<MirrorTarget> Mirrors { get; init; } = [];

    /// <summary>
    /// What of this route a gRPC call does not get (as in gRPC's own xDS clients, gRFC A28): the rewrite, the header
    /// changes and the mirrors, named in a comma-separated list; null when there are none. (A redirect or direct
    /// response fails gRPC calls UNAVAILABLE, which is reported per call.)
    /// </summary>
    public string? NotAppliedToGrpc()
    {
        var parts = new List<string>(4);
        if (Rewrite is not null)
        {
            parts.Add("rewrite");
        }

        if (!RequestHeaders.IsEmpty || !ClusterHeaders.Values.All(static h => h.Request.IsEmpty))
        {
            parts.Add("request header changes");
        }

        if (!ResponseHeaders.IsEmpty || !ClusterHeaders.Values.All(static h => h.Response.IsEmpty))
        {
            parts.Add("response header changes");
        }

        if (!Mirrors.IsEmpty)
        {
            parts.Add("mirrors");
        }

        return parts.Count == 0 ? null : string.Join(", ", parts);
    }

    /// <summary>Whether the route answers in-process instead of forwarding.</summary>
    public bool Answers => Redirect is not null || DirectStatus != 0;

    /// <summary>The in-process answer of a redirect or direct-response route, or null when the route forwards.</summary>
    public HttpResponseMessage? Answer(HttpRequestMessage request, Uri uri, RouteMatcher match)
    {
        if (Redirect is { } redirect)
        {
            var response = new HttpResponseMessage((HttpStatusCode)redirect.Status) { RequestMessage = request };
            response.Headers.Location = redirect.Location(uri, request.Headers.Host ?? uri.Authority, match);
            ResponseHeaders.Apply(response.Headers, null);
            return response;
        }

        if (DirectStatus != 0)
        {
            var response = new HttpResponseMessage((HttpStatusCode)DirectStatus) { RequestMessage = request };
            if (DirectBody is not null)
            {
                response.Content = new StringContent(DirectBody);
            }

            ResponseHeaders.Apply(response.Headers, response.Content?.Headers);
            return response;
        }

        return null;
    }

    /// <summary>
    /// Applies the rewrite and the request header changes for a request sent to <paramref name="cluster"/>; returns the
    /// request URI to forward (its path rewritten).
    /// </summary>
    public Uri ApplyToRequest(HttpRequestMessage request, Uri uri, RouteMatcher match, string cluster)
    {
        if (Rewrite is { } rewrite)
        {
            if (rewrite.Authority is { } authority)
            {
                request.Headers.Host = authority;
            }

            var path = rewrite.Apply(uri.AbsolutePath, match);
            if (!string.Equals(path, uri.AbsolutePath, StringComparison.Ordinal))
            {
                request.Headers.Host ??= uri.Authority;

                // A rewrite may bring its own query (Istio's "/item?id=\1"): it goes first, the request's after it.
                var query = uri.Query.TrimStart('?');
                var mark = path.IndexOf('?', StringComparison.Ordinal);
                if (mark >= 0)
                {
                    query = query.Length == 0 ? path[(mark + 1)..] : path[(mark + 1)..] + "&" + query;
                    path = path[..mark];
                }

                uri = new UriBuilder(uri) { Path = path, Query = query }.Uri;
            }
        }

        RequestHeaders.Apply(request.Headers, request.Content?.Headers);
        if (ClusterHeaders.TryGetValue(cluster, out var own))
        {
            own.Request.Apply(request.Headers, request.Content?.Headers);
        }

        return uri;
    }

    /// <summary>Applies the response header changes of the route and of <paramref name="cluster"/>.</summary>
    public void ApplyToResponse(HttpResponseMessage response, string cluster)
    {
        ResponseHeaders.Apply(response.Headers, response.Content?.Headers);
        if (ClusterHeaders.TryGetValue(cluster, out var own))
        {
            own.Response.Apply(response.Headers, response.Content?.Headers);
        }
    }
}
