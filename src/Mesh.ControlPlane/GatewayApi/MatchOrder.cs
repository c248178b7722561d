namespace Mesh.ControlPlane.GatewayApi;

/// <summary>
/// How specific a route match is, in the Gateway API's order of precedence: an exact path, then a regular expression,
/// then the longest prefix; then a method match; then the most header matches; then the most query parameter matches.
/// </summary>
/// <param name="PathRank">3 for an exact path (or gRPC service and method), 2 for a regular expression, 1 for a prefix, 0 for none.</param>
/// <param name="PathLength">The length of the path value.</param>
/// <param name="Method">1 when the match names a method.</param>
/// <param name="Headers">How many headers it matches.</param>
/// <param name="QueryParams">How many query parameters it matches.</param>
internal readonly record struct MatchOrder(int PathRank, int PathLength, int Method, int Headers, int QueryParams)
{
    /// <summary>Sorts the more specific match first.</summary>
    public int CompareTo(MatchOrder other)
    {
        var c = other.PathRank.CompareTo(PathRank);
        if (c == 0)
        {
            c = other.PathLength.CompareTo(PathLength);
        }

        if (c == 0)
        {
            c = other.Method.CompareTo(Method);
        }

        if (c == 0)
        {
            c = other.Headers.CompareTo(Headers);
        }

        return c != 0 ? c : other.QueryParams.CompareTo(QueryParams);
    }
}
