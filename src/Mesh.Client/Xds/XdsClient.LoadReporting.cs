using Grpc.Net.Client;

namespace Mesh.Client.Xds;

/// <summary>What load reporting (LRS to the <c>self</c> server) uses of the ADS connection.</summary>
internal sealed partial class XdsClient
{
    /// <summary>
    /// The channel to the xDS server the ADS stream uses now (the LRS server of clusters whose <c>lrs_server</c> is
    /// <c>self</c>), or null before the first watch and after disposal.
    /// </summary>
    internal GrpcChannel? CurrentChannel
    {
        get
        {
            lock (_lock)
            {
                return _disposed ? null : _channel;
            }
        }
    }
}
