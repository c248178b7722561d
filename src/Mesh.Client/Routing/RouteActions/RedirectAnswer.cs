namespace Mesh.Client.Routing.RouteActions;

/// <summary>
/// A route that answers with a redirect (VirtualService <c>redirect</c>, Envoy's <c>RedirectAction</c>): the status and
/// the parts of the Location that replace the request's.
/// </summary>
/// <param name="Status">301, 302, 303, 307 or 308.</param>
/// <param name="Scheme">The scheme, or null to keep the request's.</param>
/// <param name="Host">The host, or null to keep the request's.</param>
/// <param name="Port">The port, or 0 to keep the request's.</param>
/// <param name="Path">The whole path (with a query if it has one), or null.</param>
/// <param name="PrefixRewrite">The replacement of the route's matched prefix, or null.</param>
/// <param name="StripQuery">Drop the request's query.</param>
internal sealed record RedirectAnswer(int Status, string? Scheme, string? Host, int Port, string? Path, string? PrefixRewrite, bool StripQuery)
{
    /// <summary>The Location for a request to <paramref name="uri"/> (with <paramref name="authority"/>) on a route matching <paramref name="match"/>.</summary>
    public Uri Location(Uri uri, string authority, RouteMatcher match)
    {
        var scheme = Scheme ?? uri.Scheme;
        var host = Host ?? authority;
        var colon = host.LastIndexOf(':');
        if (colon > 0 && host.IndexOf(']', StringComparison.Ordinal) < colon && (Host is null || Port != 0))
        {
            host = host[..colon]; // a port in the authority is replaced by the redirect's, or dropped with the scheme's default
        }

        var port = Port != 0 ? Port : (Host is null && Scheme is null && !uri.IsDefaultPort ? uri.Port : -1);
        string path;
        var query = StripQuery ? string.Empty : uri.Query;
        if (Path is not null)
        {
            var q = Path.IndexOf('?', StringComparison.Ordinal);
            path = q < 0 ? Path : Path[..q];
            query = q < 0 ? query : Path[q..];
        }
        else if (PrefixRewrite is not null)
        {
            path = new PathRewrite(PrefixRewrite, null, null, null).Apply(uri.AbsolutePath, match);
        }
        else
        {
            path = uri.AbsolutePath;
        }

        var builder = new UriBuilder(scheme, host, port) { Path = path, Query = query.TrimStart('?') };
        return builder.Uri;
    }
}
