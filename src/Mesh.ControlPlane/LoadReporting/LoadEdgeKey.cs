namespace Mesh.ControlPlane.LoadReporting;

/// <summary>One edge of the load graph: a source workload calling a destination service (and subset).</summary>
/// <param name="SourceNamespace">The reporting client's namespace (node metadata <c>NAMESPACE</c>).</param>
/// <param name="SourceWorkload">The reporting client's workload (node metadata <c>WORKLOAD_NAME</c>, else the node's cluster or id).</param>
/// <param name="DestinationService">The destination host, from the cluster name <c>outbound|port|subset|host</c>.</param>
/// <param name="DestinationPort">The destination port, or 0 when the cluster name is not Mesh's.</param>
/// <param name="DestinationSubset">The destination subset, empty for the whole service.</param>
internal readonly record struct LoadEdgeKey(
    string SourceNamespace, string SourceWorkload, string DestinationService, int DestinationPort, string DestinationSubset);
