namespace Mesh.ControlPlane.Injection;

/// <summary>The well-known names of injection: templates, the annotations and labels that choose them, and what is injected.</summary>
public static class InjectionTemplates
{
    /// <summary>The proxyless template: no extra container; the app gets the xDS bootstrap and a ServiceAccount token.</summary>
    public const string Proxyless = "proxyless";

    /// <summary>The sidecar template: Istio's istio-proxy container and istio-init init container.</summary>
    public const string Sidecar = "sidecar";

    /// <summary>Istio's annotation naming the templates of a pod (<c>sidecar</c>, <c>grpc-agent</c>, <c>grpc-simple</c>, or Mesh's <c>proxyless</c>).</summary>
    public const string IstioTemplatesAnnotation = "inject.istio.io/templates";

    /// <summary>Mesh's annotation naming a pod's template (<c>proxyless</c> or <c>sidecar</c>).</summary>
    public const string MeshTemplateAnnotation = "inject.mesh.io/template";

    /// <summary>A namespace label (or annotation) naming the template for its pods that name none.</summary>
    public const string NamespaceTemplateLabel = "mesh.io/inject-template";

    /// <summary>Istio's pod label (and legacy annotation) that opts a pod in or out: <c>true</c> / <c>false</c>.</summary>
    public const string IstioInjectLabel = "sidecar.istio.io/inject";

    /// <summary>Mesh's pod label that opts a pod in or out: <c>true</c> / <c>false</c>.</summary>
    public const string MeshInjectLabel = "mesh.io/inject";

    /// <summary>Istio's namespace label that turns injection on (<c>enabled</c>) or off (<c>disabled</c>).</summary>
    public const string IstioInjectionNamespaceLabel = "istio-injection";

    /// <summary>Mesh's namespace label that turns injection on (<c>enabled</c>) or off (<c>disabled</c>).</summary>
    public const string MeshInjectionNamespaceLabel = "mesh-injection";

    /// <summary>The revision label, on a namespace or a pod.</summary>
    public const string RevisionLabel = "istio.io/rev";

    /// <summary>The annotation recording what was injected (Istio's JSON shape); its presence makes injection idempotent.</summary>
    public const string StatusAnnotation = "sidecar.istio.io/status";

    /// <summary>The label saying the pod accepts Istio mutual TLS.</summary>
    public const string TlsModeLabel = "security.istio.io/tlsMode";

    /// <summary>The audience of the projected ServiceAccount tokens that prove a workload's identity to the CA, by default.</summary>
    public const string DefaultTokenAudience = "mesh-ca";

    /// <summary>The ConfigMap holding the mesh root certificate (<c>root-cert.pem</c>) in every namespace, written by the leader.</summary>
    public const string RootCertificateConfigMap = "mesh-ca-root-cert";

    /// <summary>The key of the root certificate in <see cref="RootCertificateConfigMap"/>.</summary>
    public const string RootCertificateKey = "root-cert.pem";

    /// <summary>Where the proxyless template mounts the projected ServiceAccount token.</summary>
    public const string ProxylessTokenDirectory = "/var/run/secrets/mesh/tokens";

    /// <summary>The token file's name in <see cref="ProxylessTokenDirectory"/>.</summary>
    public const string ProxylessTokenFile = "mesh-token";

    /// <summary>Where the proxyless template mounts the mesh root certificate.</summary>
    public const string ProxylessRootDirectory = "/var/run/secrets/mesh/ca";

    /// <summary>Maps a template name from an annotation to Mesh's template, or null when it names none Mesh has.</summary>
    public static string? Normalize(string name) => name.Trim() switch
    {
        Proxyless or "grpc-agent" or "grpc-simple" or "grpc" => Proxyless,
        Sidecar => Sidecar,
        _ => null,
    };
}
