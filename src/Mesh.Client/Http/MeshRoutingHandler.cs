using System.Net;
using Mesh.Client.Diagnostics;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Routing;

namespace Mesh.Client.Http;

/// <summary>
/// Routes each HttpClient request through the mesh: the request's authority names the xDS target (<c>http://reviews</c>
/// or <c>http://reviews.default.svc.cluster.local:9080</c>), the route table chooses a cluster and an endpoint, and the
/// request goes to that endpoint with its logical Host header kept. No route gives 404 and no usable endpoint 503,
/// as Envoy answers.
/// </summary>
internal sealed class MeshRoutingHandler(HttpTargetRegistry targets) : DelegatingHandler
{
    private static readonly TimeSpan FirstConfigurationWait = TimeSpan.FromSeconds(15);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is not { IsAbsoluteUri: true } uri)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var target = targets.Get(uri.IsDefaultPort ? uri.Host : uri.Authority);
        if (!target.FirstUpdate.IsCompleted)
        {
            await target.FirstUpdate.WaitAsync(FirstConfigurationWait, cancellationToken).ConfigureAwait(false);
        }

        if (target.Table is not { } table)
        {
            return Answer(HttpStatusCode.ServiceUnavailable, target.Error ?? "no xDS configuration", request);
        }

        var pick = table.Pick(uri.AbsolutePath, new HttpRequestHeaders(request));
        if (pick.Endpoint is not { } endpoint)
        {
            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickFail);
            var reason = pick.Failure ?? "no endpoint is ready";
            return Answer(reason == RouteTable.NoRouteReason ? HttpStatusCode.NotFound : HttpStatusCode.ServiceUnavailable, reason, request);
        }

        MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickComplete);
        request.Headers.Host ??= uri.Authority;
        request.RequestUri = new UriBuilder(uri) { Host = endpoint.Host, Port = endpoint.Port }.Uri;
        endpoint.Start();
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            endpoint.Finish();
        }
    }

    private static HttpResponseMessage Answer(HttpStatusCode status, string reason, HttpRequestMessage request) => new(status)
    {
        RequestMessage = request,
        ReasonPhrase = reason,
        Content = new StringContent("mesh: " + reason),
    };
}
