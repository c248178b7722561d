namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>What an Envoy sidecar does with outbound traffic to a destination the mesh does not know (Istio's
/// <c>outboundTrafficPolicy.mode</c>).</summary>
public enum OutboundTrafficMode
{
    /// <summary>Pass it through to its original destination (PassthroughCluster), Istio's default.</summary>
    AllowAny,

    /// <summary>Drop it (BlackHoleCluster).</summary>
    RegistryOnly,
}
