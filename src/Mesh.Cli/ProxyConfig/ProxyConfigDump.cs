namespace Mesh.Cli.ProxyConfig;

/// <summary>What one client holds, from the control plane's view or from the process itself (CSDS).</summary>
/// <param name="NodeId">The client's node id.</param>
/// <param name="Source">Where it was read from, for the header line (the control plane's URL, or the workload's address).</param>
/// <param name="Resources">Every resource, of every type.</param>
internal sealed record ProxyConfigDump(string NodeId, string Source, IReadOnlyList<ProxyResource> Resources)
{
    /// <summary>The resources of one type, by name.</summary>
    public IReadOnlyList<ProxyResource> OfType(string typeUrl) =>
        [.. Resources.Where(r => r.TypeUrl == typeUrl).OrderBy(r => r.Name, StringComparer.Ordinal)];
}
