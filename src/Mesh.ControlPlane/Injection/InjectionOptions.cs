namespace Mesh.ControlPlane.Injection;

/// <summary>
/// Settings of the injection webhook and of what it injects. The defaults match what <c>mesh install</c> deploys: the
/// control plane's Service <c>mesh-controlplane</c> (<c>mesh-controlplane-REV</c> for a revision) in the pod's namespace
/// (<c>POD_NAMESPACE</c>, else <c>mesh-system</c>), and the MutatingWebhookConfiguration <c>mesh-sidecar-injector</c>.
/// The webhook's port is <see cref="ControlPlaneOptions.WebhookPort"/>.
/// </summary>
public sealed class InjectionOptions
{
    /// <summary>The revision this control plane serves (<c>REVISION</c> in the environment); null or <c>default</c> for none.</summary>
    public string? Revision { get; set; } = Environment.GetEnvironmentVariable("REVISION") is { Length: > 0 } rev && rev != "default" ? rev : null;

    /// <summary>The control plane's namespace. Default: <c>POD_NAMESPACE</c>, else <c>mesh-system</c>.</summary>
    public string ServiceNamespace { get; set; } = Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 } ns ? ns : "mesh-system";

    /// <summary>The control plane's Service name; default <c>mesh-controlplane</c>, or <c>mesh-controlplane-REV</c> for a revision.</summary>
    public string? ServiceName { get; set; }

    /// <summary>The MutatingWebhookConfiguration whose caBundle the leader keeps equal to the mesh root; default <c>mesh-sidecar-injector[-REV]</c>.</summary>
    public string? ConfigurationName { get; set; }

    /// <summary>The template for a pod that names none and whose namespace names none: <c>sidecar</c> (Istio's default) or <c>proxyless</c>.</summary>
    public string DefaultTemplate { get; set; } = InjectionTemplates.Sidecar;

    /// <summary>The istio-proxy image the sidecar template runs. Default <c>docker.io/istio/proxyv2:1.24.2</c>.</summary>
    public string ProxyImage { get; set; } = "docker.io/istio/proxyv2:1.24.2";

    /// <summary>The cluster id put into node metadata (<c>CLUSTER_ID</c>). Default <c>Kubernetes</c>, as Istio's.</summary>
    public string ClusterId { get; set; } = "Kubernetes";

    /// <summary>Lifetime of the projected ServiceAccount token (the kubelet rotates it at 80 %). Default 12 hours.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Namespaces never injected, whatever their labels: Kubernetes' own and the control plane's.</summary>
    public IReadOnlyList<string> ExcludedNamespaces { get; set; } = ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"];

    /// <summary>The Service name in effect.</summary>
    public string EffectiveServiceName => ServiceName ?? (Revision is null ? "mesh-controlplane" : "mesh-controlplane-" + Revision);

    /// <summary>The MutatingWebhookConfiguration name in effect.</summary>
    public string EffectiveConfigurationName => ConfigurationName ?? (Revision is null ? "mesh-sidecar-injector" : "mesh-sidecar-injector-" + Revision);

    /// <summary>The revision label value in effect: the revision, or <c>default</c>.</summary>
    public string EffectiveRevision => Revision ?? "default";

    /// <summary>The DNS names of the control plane's Service, as the API server and workloads dial it.</summary>
    public IReadOnlyList<string> ServiceDnsNames(string clusterDomain)
    {
        var name = EffectiveServiceName;
        return [name, $"{name}.{ServiceNamespace}", $"{name}.{ServiceNamespace}.svc", $"{name}.{ServiceNamespace}.svc.{clusterDomain}"];
    }

    /// <summary>The control plane's address inside the cluster, <c>mesh-controlplane.mesh-system.svc:PORT</c>.</summary>
    public string ServiceAddress(int port) => $"{EffectiveServiceName}.{ServiceNamespace}.svc:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}
