namespace Mesh.ControlPlane.Kubernetes;

/// <summary>Where one kind's list/watch stands.</summary>
public enum InformerState
{
    /// <summary>Listing for the first time.</summary>
    Starting,

    /// <summary>Listed, and watching for changes: the cache is current.</summary>
    Watching,

    /// <summary>The API server does not serve the kind (a CustomResourceDefinition that is not installed); retried.</summary>
    Missing,

    /// <summary>The API server refuses the list or watch (RBAC); retried.</summary>
    Forbidden,

    /// <summary>The API server cannot be reached or failed; the cache holds the last state seen, and the source retries with backoff.</summary>
    Disconnected,
}
