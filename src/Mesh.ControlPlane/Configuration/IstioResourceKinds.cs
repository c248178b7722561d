namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// Every kind of resource Mesh accepts: the kinds it applies, and the kinds of Istio's networking, security and
/// telemetry APIs and of the Kubernetes Gateway API that it loads but does not apply to proxyless workloads, each
/// with the reason. A kind in none of these APIs is an error; a known kind never rejects the configuration.
/// </summary>
internal static class IstioResourceKinds
{
    private static readonly string[] Networking = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"];
    private static readonly string[] NetworkingAlpha = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3", "networking.istio.io/v1alpha2"];
    private static readonly string[] Security = ["security.istio.io/v1", "security.istio.io/v1beta1"];
    private static readonly string[] Telemetry = ["telemetry.istio.io/v1", "telemetry.istio.io/v1alpha1"];
    private static readonly string[] GatewayApi = ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1alpha2"];
    private static readonly string[] GatewayApiAlpha = ["gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1alpha3", "gateway.networking.k8s.io/v1"];

    /// <summary>Every known kind, in the order messages list them.</summary>
    public static IReadOnlyList<IstioResourceKind> All { get; } =
    [
        new("VirtualService", Networking, null),
        new("DestinationRule", Networking, null),
        new("ServiceEntry", Networking, null),
        new("WorkloadEntry", Networking, null),
        new("WorkloadGroup", NetworkingAlpha, "WorkloadGroup is a template for VM auto-registration, which proxyless workloads do not use; its WorkloadEntries are read when they are listed"),
        new("Sidecar", Networking, null),
        new("Gateway", Networking, null),
        new("EnvoyFilter", NetworkingAlpha, "EnvoyFilter patches Envoy's own configuration, which proxyless clients do not run"),
        new("ProxyConfig", ["networking.istio.io/v1beta1"], "ProxyConfig tunes the Envoy proxy process (concurrency, image, environment), which proxyless workloads do not run"),
        new("PeerAuthentication", Security, null),
        new("AuthorizationPolicy", Security, null),
        new("RequestAuthentication", Security, "proxyless servers do not validate JWTs; AuthorizationPolicy rules on requestPrincipals are rejected rather than widened"),
        // Telemetry's trace sampling is applied; its other fields are reported as not applied, field by field.
        new("Telemetry", Telemetry, null),
        // The Gateway API is converted into Istio Gateways and VirtualServices before the model is built (GatewayApi/):
        // Gateways of a class Mesh controls for gateway workloads, routes with a Service parent (GAMMA) for mesh traffic.
        new("Gateway", GatewayApi, null),
        new("GatewayClass", GatewayApi, null),
        new("HTTPRoute", GatewayApi, null),
        new("GRPCRoute", GatewayApi, null),
        new("TCPRoute", GatewayApiAlpha, "TCP routes apply to proxies only"),
        new("TLSRoute", GatewayApiAlpha, "TLS routes apply to proxies only"),
        new("UDPRoute", GatewayApiAlpha, "UDP routes apply to proxies only"),
        new("ReferenceGrant", ["gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1"], null),
        new("BackendTLSPolicy", ["gateway.networking.k8s.io/v1alpha3", "gateway.networking.k8s.io/v1"], "BackendTLSPolicy applies to gateway proxies only; use a DestinationRule tls setting"),
        new("Service", ["v1"], null),
        // TLS Secrets: read for the certificates Gateway listeners name (certificateRefs, credentialName).
        new("Secret", ["v1"], null),
        new("Pod", ["v1"], null),
        new("EndpointSlice", ["discovery.k8s.io/v1"], null),
    ];

    /// <summary>The kind with this name and apiVersion, or null; <paramref name="sameName"/> is set when the name is known at all.</summary>
    public static IstioResourceKind? Find(string kind, string apiVersion, out bool sameName)
    {
        sameName = false;
        foreach (var known in All)
        {
            if (known.Kind != kind)
            {
                continue;
            }

            sameName = true;
            if (Array.IndexOf(known.ApiVersions, apiVersion) >= 0)
            {
                return known;
            }
        }

        return null;
    }

    /// <summary>Every apiVersion a kind of this name has, for messages.</summary>
    public static IEnumerable<string> ApiVersionsOf(string kind)
    {
        foreach (var known in All)
        {
            if (known.Kind == kind)
            {
                foreach (var version in known.ApiVersions)
                {
                    yield return version;
                }
            }
        }
    }

    /// <summary>The distinct kind names, for messages.</summary>
    public static IEnumerable<string> Names => All.Select(k => k.Kind).Distinct(StringComparer.Ordinal);
}
