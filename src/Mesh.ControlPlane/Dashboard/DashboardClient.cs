using Mesh.ControlPlane.Xds;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>An xDS client as the dashboard lists it: connected now, or gone a little while ago.</summary>
/// <param name="NodeId">The node id.</param>
/// <param name="Namespace">The namespace it runs in.</param>
/// <param name="Workload">Its workload name (node metadata <c>WORKLOAD_NAME</c>, else its cluster or id).</param>
/// <param name="Protocol">How it connected (plaintext or TLS).</param>
/// <param name="Peer">Its address.</param>
/// <param name="ConnectedAt">When its stream opened.</param>
/// <param name="DisconnectedAt">When its stream ended, or null while it is connected.</param>
/// <param name="Types">What it was sent and acknowledged, per resource type.</param>
internal sealed record DashboardClient(
    string NodeId,
    string Namespace,
    string Workload,
    string Protocol,
    string Peer,
    DateTimeOffset ConnectedAt,
    DateTimeOffset? DisconnectedAt,
    IReadOnlyList<XdsTypeStatus> Types);
