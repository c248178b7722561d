namespace Mesh.Client.Telemetry;

/// <summary>
/// Makes each request of a mesh HttpClient one <see cref="ClientCallTelemetry"/>, above the routing handler, so its
/// retries, faults and local answers (404 no route, 503, 504) are one request as istio-proxy counts it.
/// </summary>
internal sealed class MeshCallTelemetryHandler(ClientTelemetry telemetry) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        telemetry.Observing ? SendTrackedAsync(request, cancellationToken) : base.SendAsync(request, cancellationToken);

    private async Task<HttpResponseMessage> SendTrackedAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var call = new ClientCallTelemetry(telemetry, request.RequestUri?.Authority, IstioLabels.Http);
        ClientCallTelemetry.Current = call; // this async method's flow only: reverted when it returns
        try
        {
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            call.End(grpcStatus: null, (int)response.StatusCode);
            return response;
        }
        catch (Exception)
        {
            call.End(grpcStatus: null, httpStatus: 0);
            throw;
        }
    }
}
