using Envoy.Service.Status.V3;
using Mesh.Client.Internal;

namespace Mesh.Client;

/// <summary>
/// What the process's xDS client holds right now: every resource it watches with its version and status (REQUESTED,
/// DOES_NOT_EXIST, ACKED, NACKED) and the last error of a rejected one, in CSDS's own shape. Resolve it from the
/// service provider; map <see cref="MeshClientStatusService"/> to serve it over gRPC.
/// </summary>
public sealed class MeshClientStatus
{
    private readonly XdsClientProvider _clients;

    internal MeshClientStatus(XdsClientProvider clients) => _clients = clients;

    /// <summary>Whether the ADS stream is connected now.</summary>
    public bool IsConnected => _clients.IsCreated && _clients.Client.GetStatus().Connection.State == Xds.XdsConnectionState.Connected;

    /// <summary>The client's configuration as a CSDS <see cref="ClientConfig"/>; empty before the first channel or HttpClient uses the mesh.</summary>
    /// <param name="excludeResourceContents">Leave out the resources themselves (names, versions and status only).</param>
    public ClientConfig GetClientConfig(bool excludeResourceContents = false)
    {
        if (!_clients.IsCreated)
        {
            return new ClientConfig();
        }

        var client = _clients.Client;
        return client.GetStatus().ToClientConfig(client.Node, excludeResourceContents);
    }
}
