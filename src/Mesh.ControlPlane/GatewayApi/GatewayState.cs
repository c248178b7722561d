using Mesh.ControlPlane.Configuration;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>A Gateway of a class Mesh controls, with its listeners as the conversion judged them.</summary>
internal sealed class GatewayState(ConfigResource resource, KubeGatewaySpec spec, long generation)
{
    public ConfigResource Resource { get; } = resource;

    public KubeGatewaySpec Spec { get; } = spec;

    public long Generation { get; } = generation;

    public List<ListenerState> Listeners { get; } = [];

    /// <summary>The labels of the gateway workloads that serve it.</summary>
    public Dictionary<string, string> Selector { get; set; } = [];

    /// <summary>Why the Gateway's addresses cannot be honoured, or null.</summary>
    public string? AddressProblem { get; set; }
}
