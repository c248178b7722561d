namespace Mesh.ControlPlane.Kubernetes;

/// <summary>A kind the Kubernetes source watches: where it lives in the API and whether the mesh model reads it.</summary>
/// <param name="Group">The API group, empty for the core group.</param>
/// <param name="Version">The API version, for example <c>v1</c>.</param>
/// <param name="Plural">The resource name in paths, for example <c>endpointslices</c>.</param>
/// <param name="Kind">The kind, for example <c>EndpointSlice</c>.</param>
/// <param name="Namespaced">Whether objects of the kind live in a namespace.</param>
/// <param name="Published">
/// Whether the source hands objects of this kind to the model. Namespaces are watched and cached but not published:
/// the source uses them for discovery selectors.
/// </param>
/// <param name="LabelsOnly">
/// Whether the model reads only the name and labels of this kind's objects (Node: its locality labels). The cache then
/// keeps only those, and an update that leaves them alone (a Node's status heartbeat) is not a change of the model's input.
/// </param>
public sealed record KubernetesKind(string Group, string Version, string Plural, string Kind, bool Namespaced = true, bool Published = true, bool LabelsOnly = false)
{
    /// <summary>The <c>apiVersion</c> of the kind's objects.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : Group + "/" + Version;

    /// <summary>The collection path across all namespaces, relative to the server: <c>api/v1/pods</c>, <c>apis/g/v/plural</c>.</summary>
    public string CollectionPath => (Group.Length == 0 ? "api/" + Version : "apis/" + Group + "/" + Version) + "/" + Plural;

    /// <summary>The path of one object (and its subresource when given).</summary>
    public string ObjectPath(string? @namespace, string name, string? subresource = null)
    {
        var prefix = Group.Length == 0 ? "api/" + Version : "apis/" + Group + "/" + Version;
        var path = Namespaced ? $"{prefix}/namespaces/{@namespace}/{Plural}/{name}" : $"{prefix}/{Plural}/{name}";
        return subresource is null ? path : path + "/" + subresource;
    }

    /// <summary><c>plural.group</c>, as kubectl and RBAC rules name the resource.</summary>
    public string Resource => Group.Length == 0 ? Plural : Plural + "." + Group;

    /// <summary>The core Namespace kind.</summary>
    public static KubernetesKind Namespace { get; } = new(string.Empty, "v1", "namespaces", "Namespace", Namespaced: false, Published: false);

    /// <summary>The core Node kind (locality labels <c>topology.kubernetes.io/region</c> and <c>zone</c>).</summary>
    public static KubernetesKind Node { get; } = new(string.Empty, "v1", "nodes", "Node", Namespaced: false, LabelsOnly: true);

    /// <summary>Every kind the source watches: Kubernetes discovery, and every Istio and Gateway API kind.</summary>
    public static IReadOnlyList<KubernetesKind> All { get; } =
    [
        Namespace,
        Node,
        new(string.Empty, "v1", "services", "Service"),
        new("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
        new(string.Empty, "v1", "pods", "Pod"),
        new("networking.istio.io", "v1", "virtualservices", "VirtualService"),
        new("networking.istio.io", "v1", "destinationrules", "DestinationRule"),
        new("networking.istio.io", "v1", "serviceentries", "ServiceEntry"),
        new("networking.istio.io", "v1", "workloadentries", "WorkloadEntry"),
        new("networking.istio.io", "v1", "gateways", "Gateway"),
        new("security.istio.io", "v1", "peerauthentications", "PeerAuthentication"),
        new("security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy"),
        new("security.istio.io", "v1", "requestauthentications", "RequestAuthentication"),
        new("telemetry.istio.io", "v1", "telemetries", "Telemetry"),
        new("gateway.networking.k8s.io", "v1", "gatewayclasses", "GatewayClass", Namespaced: false),
        new("gateway.networking.k8s.io", "v1", "gateways", "Gateway"),
        new("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"),
        new("gateway.networking.k8s.io", "v1", "grpcroutes", "GRPCRoute"),
        new("gateway.networking.k8s.io", "v1beta1", "referencegrants", "ReferenceGrant"),
    ];
}
