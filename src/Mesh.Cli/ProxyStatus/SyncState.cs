namespace Mesh.Cli.ProxyStatus;

/// <summary>Where one xDS type of one client stands, in istioctl's words.</summary>
internal enum SyncState
{
    /// <summary>Nothing sent for this type (not requested, or nothing to send yet).</summary>
    NotSent,

    /// <summary>The client ACKed the last version sent.</summary>
    Synced,

    /// <summary>A version was sent and is not ACKed yet.</summary>
    Stale,

    /// <summary>The client rejected the last version sent.</summary>
    Nack,
}
