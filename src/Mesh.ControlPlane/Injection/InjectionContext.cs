namespace Mesh.ControlPlane.Injection;

/// <summary>What the templates need to know about the mesh: the control plane's address in the cluster, the trust domain, the token audience.</summary>
internal sealed record InjectionContext(InjectionOptions Options, string TrustDomain, string ClusterDomain, string TokenAudience)
{
    /// <summary>The port of the control plane's Service for xDS over TLS and the CA.</summary>
    public const int ServiceTlsPort = 15012;

    /// <summary>The control plane's xDS-over-TLS and CA address, <c>mesh-controlplane.mesh-system.svc:15012</c>.</summary>
    public string DiscoveryAddress => Options.ServiceAddress(ServiceTlsPort);

    public static InjectionContext From(ControlPlaneOptions controlPlane, InjectionOptions options) =>
        new(options, controlPlane.TrustDomain, controlPlane.ClusterDomain, controlPlane.ServiceAccountTokenAudience);
}
