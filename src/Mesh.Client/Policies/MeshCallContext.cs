using Mesh.Client.LoadBalancing;
using Mesh.Client.Resources;

namespace Mesh.Client.Policies;

/// <summary>
/// What the mesh interceptor decided for one call attempt, handed to the channel's picker through an AsyncLocal:
/// the route's action and the cluster chosen once for the call (retries stay on it), and, back from the picker,
/// the endpoint that took the attempt.
/// </summary>
internal sealed class MeshCallContext
{
    private static readonly AsyncLocal<MeshCallContext?> CurrentContext = new();

    public MeshCallContext(RouteActionResource action, string cluster)
    {
        Action = action;
        Cluster = cluster;
    }

    public static MeshCallContext? Current
    {
        get => CurrentContext.Value;
        set => CurrentContext.Value = value;
    }

    public RouteActionResource Action { get; }

    public string Cluster { get; }

    /// <summary>The endpoint (as a member of its cluster) the picker chose for the latest attempt.</summary>
    public ClusterMember? Member { get; set; }
}
