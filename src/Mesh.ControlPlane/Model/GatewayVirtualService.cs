using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// A VirtualService bound to one or more Gateways (its <c>gateways</c> name them): the hosts it serves there and its
/// HTTP rules, built once with every feature of mesh routing. A rule's matches keep their own <c>gateways</c>, so a
/// translator serves each match only on the gateways it names.
/// </summary>
/// <param name="Namespace">The VirtualService's namespace (gateway names and host namespaces are read from it).</param>
/// <param name="Name">The VirtualService's name.</param>
/// <param name="Hosts">The hosts as written (<c>*</c>, <c>bookinfo.example.com</c>).</param>
/// <param name="Gateways">The Gateways it binds to, as <c>namespace/name</c>.</param>
/// <param name="Rules">The HTTP rules, in order.</param>
/// <param name="DeclaredBy">The resource and origin, for messages.</param>
public sealed record GatewayVirtualService(
    string Namespace,
    string Name,
    ImmutableArray<string> Hosts,
    ImmutableArray<string> Gateways,
    ImmutableArray<HttpRouteRule> Rules,
    string DeclaredBy);
