using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>
/// One Istio HTTP route generated from one match of a Gateway API rule (a PathPrefix match gives two: the exact path and
/// the path with a trailing slash, since the Gateway API's prefix matches whole path segments), with what orders it.
/// </summary>
/// <param name="Route">The route it came from.</param>
/// <param name="Rule">The rule's index.</param>
/// <param name="Match">The match's index in the rule.</param>
/// <param name="Piece">The index among the Istio routes of that match.</param>
/// <param name="Order">How specific the match is.</param>
/// <param name="Http">The Istio HTTPRoute (VirtualService <c>http</c> item), never changed: it is cloned into each VirtualService.</param>
internal sealed record RouteEntry(RouteSource Route, int Rule, int Match, int Piece, MatchOrder Order, JsonObject Http);
