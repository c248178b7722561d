using Envoy.Service.Status.V3;
using Grpc.Core;

namespace Mesh.Client;

/// <summary>
/// The client status discovery service (CSDS, <c>envoy.service.status.v3.ClientStatusDiscoveryService</c>) for this
/// process, so tools that speak CSDS can ask a running service what xDS configuration it holds. Map it in an
/// ASP.NET Core app with <c>app.MapGrpcService&lt;MeshClientStatusService&gt;()</c>.
/// </summary>
public sealed class MeshClientStatusService : ClientStatusDiscoveryService.ClientStatusDiscoveryServiceBase
{
    private readonly MeshClientStatus _status;

    /// <summary>Creates the service over the process's <see cref="MeshClientStatus"/>.</summary>
    public MeshClientStatusService(MeshClientStatus status) => _status = status;

    /// <inheritdoc />
    public override Task<ClientStatusResponse> FetchClientStatus(ClientStatusRequest request, ServerCallContext context) =>
        Task.FromResult(Respond(request));

    /// <inheritdoc />
    public override async Task StreamClientStatus(IAsyncStreamReader<ClientStatusRequest> requestStream, IServerStreamWriter<ClientStatusResponse> responseStream, ServerCallContext context)
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            await responseStream.WriteAsync(Respond(request)).ConfigureAwait(false);
        }
    }

    private ClientStatusResponse Respond(ClientStatusRequest request) =>
        new() { Config = { _status.GetClientConfig(request.ExcludeResourceContents) } };
}
