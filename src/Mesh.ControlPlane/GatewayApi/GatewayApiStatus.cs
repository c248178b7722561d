using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>
/// The status the Gateway API conversion computed for one resource (a GatewayClass, Gateway, HTTPRoute or GRPCRoute),
/// in the resource's own <c>status</c> shape. Conditions carry no <c>lastTransitionTime</c>: whoever writes them (the
/// Kubernetes status writer) stamps it. Never changed after it is built.
/// </summary>
/// <param name="Kind">The resource's kind.</param>
/// <param name="Namespace">The resource's namespace (empty for a GatewayClass).</param>
/// <param name="Name">The resource's name.</param>
/// <param name="Origin">Where the resource came from, as its <see cref="Configuration.ConfigResource.Origin"/>.</param>
/// <param name="Status">The <c>status</c> object. For a route, only the <c>parents</c> entries Mesh owns.</param>
public sealed record GatewayApiStatus(string Kind, string Namespace, string Name, string Origin, JsonObject Status);
