namespace Mesh.Testing.Kubernetes;

/// <summary>A resource type the fake API server serves: its group, version, plural name and kind.</summary>
/// <param name="Group">The API group, empty for the core group.</param>
/// <param name="Version">The version, for example <c>v1</c>.</param>
/// <param name="Plural">The plural resource name used in paths, for example <c>services</c>.</param>
/// <param name="Kind">The kind, for example <c>Service</c>.</param>
/// <param name="Namespaced">Whether objects live in a namespace.</param>
/// <param name="HasStatus">Whether the type has a <c>/status</c> subresource (then a PUT of the object keeps its status).</param>
/// <param name="ShortNames">kubectl's short names, for example <c>vs</c>.</param>
public sealed record FakeResourceType(string Group, string Version, string Plural, string Kind, bool Namespaced = true, bool HasStatus = false, params string[] ShortNames)
{
    /// <summary>The <c>apiVersion</c> of objects of this type: <c>v1</c> or <c>group/version</c>.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : Group + "/" + Version;

    /// <summary>The path prefix of the type's group and version: <c>/api/v1</c> or <c>/apis/group/version</c>.</summary>
    public string Prefix => Group.Length == 0 ? "/api/" + Version : "/apis/" + Group + "/" + Version;

    /// <summary>The types a Mesh control plane reads, plus the ones Bookinfo's manifests and the control plane write.</summary>
    public static IReadOnlyList<FakeResourceType> Defaults { get; } =
    [
        new(string.Empty, "v1", "namespaces", "Namespace", Namespaced: false, HasStatus: true, "ns"),
        new(string.Empty, "v1", "services", "Service", HasStatus: true, ShortNames: "svc"),
        new(string.Empty, "v1", "pods", "Pod", HasStatus: true, ShortNames: "po"),
        new(string.Empty, "v1", "nodes", "Node", Namespaced: false, HasStatus: true, "no"),
        new(string.Empty, "v1", "serviceaccounts", "ServiceAccount", ShortNames: "sa"),
        new(string.Empty, "v1", "configmaps", "ConfigMap", ShortNames: "cm"),
        new(string.Empty, "v1", "secrets", "Secret"),
        new(string.Empty, "v1", "events", "Event", ShortNames: "ev"),
        new("apps", "v1", "deployments", "Deployment", HasStatus: true, ShortNames: "deploy"),
        new("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
        new("coordination.k8s.io", "v1", "leases", "Lease"),
        new("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", Namespaced: false),
        new("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", Namespaced: false),
        new("networking.istio.io", "v1", "virtualservices", "VirtualService", HasStatus: true, ShortNames: "vs"),
        new("networking.istio.io", "v1", "destinationrules", "DestinationRule", HasStatus: true, ShortNames: "dr"),
        new("networking.istio.io", "v1", "serviceentries", "ServiceEntry", HasStatus: true, ShortNames: "se"),
        new("networking.istio.io", "v1", "workloadentries", "WorkloadEntry", HasStatus: true, ShortNames: "we"),
        new("networking.istio.io", "v1", "gateways", "Gateway", HasStatus: true, ShortNames: "gw"),
        new("security.istio.io", "v1", "peerauthentications", "PeerAuthentication", HasStatus: true, ShortNames: "pa"),
        new("security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy", HasStatus: true, ShortNames: "ap"),
        new("security.istio.io", "v1", "requestauthentications", "RequestAuthentication", HasStatus: true, ShortNames: "ra"),
        new("telemetry.istio.io", "v1", "telemetries", "Telemetry", HasStatus: true, ShortNames: "telemetry"),
        new("gateway.networking.k8s.io", "v1", "gatewayclasses", "GatewayClass", Namespaced: false, HasStatus: true, "gc"),
        new("gateway.networking.k8s.io", "v1", "gateways", "Gateway", HasStatus: true, ShortNames: "gtw"),
        new("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", HasStatus: true),
        new("gateway.networking.k8s.io", "v1", "grpcroutes", "GRPCRoute", HasStatus: true),
        new("gateway.networking.k8s.io", "v1beta1", "referencegrants", "ReferenceGrant"),
    ];
}
