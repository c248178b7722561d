namespace Mesh.ControlPlane.Configuration;

// The shape of Istio's PeerAuthentication (security.istio.io/v1), bound strictly: an unknown field is an error.

internal sealed class PeerAuthenticationSpec
{
    public WorkloadSelector? Selector { get; set; }

    public PeerAuthenticationMtls? Mtls { get; set; }

    public Dictionary<string, PeerAuthenticationMtls>? PortLevelMtls { get; set; }
}

internal sealed class PeerAuthenticationMtls
{
    public string? Mode { get; set; }
}
