namespace Mesh.Cli.ProxyStatus;

/// <summary>One xDS type on one client's stream, as <c>/debug/syncz</c> reports it.</summary>
/// <param name="TypeUrl">The full type URL.</param>
/// <param name="State">SYNCED, NOT SENT, STALE or NACK.</param>
/// <param name="SentVersion">The last version the control plane sent.</param>
/// <param name="AckedVersion">The last version the client ACKed.</param>
/// <param name="NackReason">The client's error message when <paramref name="State"/> is NACK (or from the last NACK).</param>
/// <param name="ResourceCount">How many resources the client holds of this type.</param>
internal sealed record TypeSyncStatus(string TypeUrl, SyncState State, string? SentVersion, string? AckedVersion, string? NackReason, long? ResourceCount)
{
    /// <summary>The short name: LDS, RDS, CDS, EDS, SDS, or the message name for other types.</summary>
    public string ShortName => XdsTypes.ShortName(TypeUrl);
}
