namespace Mesh.Client.Routing.RouteActions;

/// <summary>A cluster that gets a fire-and-forget copy of a share of a route's requests (<c>request_mirror_policies</c>).</summary>
/// <param name="Cluster">The cluster the copy goes to.</param>
/// <param name="PerMillion">The share of requests copied, in parts per million.</param>
internal sealed record MirrorTarget(string Cluster, uint PerMillion);
