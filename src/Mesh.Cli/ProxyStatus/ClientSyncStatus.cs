namespace Mesh.Cli.ProxyStatus;

/// <summary>One connected xDS client (a proxyless .NET service, another gRPC xDS client, or Envoy) and its per-type state.</summary>
/// <param name="NodeId">The client's node id.</param>
/// <param name="Cluster">The node's cluster (Envoy's service cluster), when it sent one.</param>
/// <param name="Namespace">The namespace the control plane took from the node's metadata.</param>
/// <param name="Protocol">SotW or delta ADS.</param>
/// <param name="Peer">The client's address.</param>
/// <param name="ConnectedAt">When the stream opened.</param>
/// <param name="Types">Per-type state.</param>
internal sealed record ClientSyncStatus(
    string NodeId,
    string? Cluster,
    string? Namespace,
    string? Protocol,
    string? Peer,
    string? ConnectedAt,
    IReadOnlyList<TypeSyncStatus> Types)
{
    /// <summary>The state of the type named <paramref name="shortName"/> (LDS, …); NOT SENT when the client never asked for it.</summary>
    public SyncState StateOf(string shortName) =>
        Types.FirstOrDefault(t => t.ShortName == shortName)?.State ?? SyncState.NotSent;
}
