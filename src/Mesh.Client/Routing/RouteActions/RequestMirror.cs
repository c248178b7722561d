using Mesh.Client.LoadBalancing;
using Mesh.Client.Resources;

namespace Mesh.Client.Routing.RouteActions;

/// <summary>
/// Sends fire-and-forget copies of a request to a route's mirror clusters (VirtualService <c>mirror</c> with
/// <c>mirrorPercentage</c>), as Envoy does: the copy's authority gets <c>-shadow</c> appended, its response is thrown
/// away, and nothing about it (failure, slowness) reaches the caller. A copy is sent only when the mirror cluster has
/// an endpoint to take it under its circuit breaker.
/// </summary>
internal static class RequestMirror
{
    /// <summary>The delegate that sends a copy (the handler below the mesh's).</summary>
    public delegate Task<HttpResponseMessage> Send(HttpRequestMessage request, CancellationToken cancellationToken);

    /// <summary>Sends the copies due for <paramref name="request"/>, buffering its body first when it has one.</summary>
    public static async ValueTask MirrorAsync(HttpRouteActions actions, RouteTable table, RouteActionResource action, HttpRequestMessage request, Uri uri, Send send)
    {
        byte[]? body = null;
        foreach (var mirror in actions.Mirrors)
        {
            if (mirror.PerMillion < 1_000_000 && (uint)Random.Shared.Next(1_000_000) >= mirror.PerMillion)
            {
                continue;
            }

            var pick = table.PickInCluster(mirror.Cluster, action, new HttpRequestHeaders(request));
            if (pick.Member is not { } member)
            {
                continue;
            }

            if (request.Content is not null && body is null)
            {
                await request.Content.LoadIntoBufferAsync().ConfigureAwait(false);
                body = await request.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            }

            var copy = new HttpRequestMessage(request.Method, new UriBuilder(uri) { Host = member.Endpoint.Host, Port = member.Endpoint.Port }.Uri)
            {
                Version = request.Version,
                VersionPolicy = request.VersionPolicy,
            };
            foreach (var header in request.Headers)
            {
                copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            copy.Headers.Host = (request.Headers.Host ?? uri.Authority) + "-shadow";
            if (body is not null)
            {
                copy.Content = new ByteArrayContent(body);
                foreach (var header in request.Content!.Headers)
                {
                    copy.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            if (member.Tls is { Error: null } tls)
            {
                copy.Options.Set(Transport.MeshConnector.TlsOption, tls);
            }

            _ = SendCopyAsync(copy, member, send);
        }
    }

    private static async Task SendCopyAsync(HttpRequestMessage copy, ClusterMember member, Send send)
    {
        member.Start();
        try
        {
            using var response = await send(copy, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            // A mirror's failure never reaches the caller.
        }
        finally
        {
            member.Finish();
            copy.Dispose();
        }
    }
}
