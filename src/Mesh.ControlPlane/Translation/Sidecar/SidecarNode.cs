using Envoy.Config.Core.V3;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// An Envoy sidecar as its xDS node describes it: an id of the form
/// <c>sidecar~&lt;ip&gt;~&lt;pod&gt;.&lt;ns&gt;~&lt;ns&gt;.svc.cluster.local</c> (split on <c>~</c>, as Istio does) and no
/// <c>GENERATOR: grpc</c> in its metadata. Any other node is proxyless.
/// </summary>
/// <param name="IpAddress">The pod's IP address, the second part of the id.</param>
/// <param name="PodName">The pod's name.</param>
/// <param name="Namespace">The pod's namespace.</param>
/// <param name="DnsDomain">The fourth part of the id, <c>&lt;ns&gt;.svc.cluster.local</c>.</param>
public sealed record SidecarNode(string IpAddress, string PodName, string Namespace, string DnsDomain)
{
    /// <summary>The metadata key whose value <c>grpc</c> marks a proxyless client.</summary>
    public const string GeneratorKey = "GENERATOR";

    /// <summary>A stable key for caching per-sidecar resources.</summary>
    public string Key => $"{IpAddress}|{PodName}|{Namespace}";

    /// <summary>The sidecar <paramref name="node"/> describes, or null when it is a proxyless client.</summary>
    public static SidecarNode? From(Node? node) => Parse(node, "sidecar");

    /// <summary>
    /// The Envoy gateway <paramref name="node"/> describes (an id of the form <c>router~&lt;ip&gt;~&lt;pod&gt;.&lt;ns&gt;~…</c>,
    /// as istio-ingressgateway's agent writes it), or null when it is not one.
    /// </summary>
    public static SidecarNode? FromGateway(Node? node) => Parse(node, "router");

    private static SidecarNode? Parse(Node? node, string type)
    {
        if (node is null)
        {
            return null;
        }

        if (node.Metadata?.Fields.TryGetValue(GeneratorKey, out var generator) == true
            && generator.KindCase == Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StringValue
            && !string.IsNullOrEmpty(generator.StringValue))
        {
            return null;
        }

        var parts = node.Id.Split('~');
        if (parts.Length != 4 || parts[0] != type || parts[1].Length == 0
            || !System.Net.IPAddress.TryParse(parts[1], out _))
        {
            return null;
        }

        var dot = parts[2].LastIndexOf('.');
        if (dot <= 0 || dot == parts[2].Length - 1)
        {
            return null;
        }

        return new SidecarNode(parts[1], parts[2][..dot], parts[2][(dot + 1)..], parts[3]);
    }
}
