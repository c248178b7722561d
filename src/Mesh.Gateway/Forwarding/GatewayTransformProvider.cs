using System.Net;
using Mesh.Client.Http;
using Mesh.Client.Policies;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Mesh.Gateway.Forwarding;

/// <summary>
/// The request transforms of every gateway route: the virtual host the request is routed by (for Mesh.Client's
/// routing handler), the client's own authority kept (Host header and request URI, as an Envoy gateway forwards it,
/// so VirtualService authority matches and redirects see it), the server port header dropped, and the upstream
/// HTTP version: HTTP/2 (prior knowledge over the mesh's connection) for gRPC, HTTP/1.1 for the rest.
/// </summary>
internal sealed class GatewayTransformProvider : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        if (context.Route.Metadata is not { } metadata
            || !metadata.TryGetValue(GatewayDefaults.ListenerMetadata, out var listener)
            || !metadata.TryGetValue(GatewayDefaults.VirtualHostMetadata, out var virtualHost))
        {
            return;
        }

        var route = new GatewayRoute(listener, virtualHost); // once per route, shared by its requests
        MeshRoutingHandler.GatewayRoutesInUse = true; // the routing handler now reads each request's gateway route
        context.AddOriginalHost(true);
        context.AddRequestHeaderRemove(GatewayDefaults.ServerPortHeader);
        context.AddRequestTransform(transform =>
        {
            var request = transform.HttpContext.Request;
            transform.DestinationPrefix = "http://" + request.Host.Value;
            transform.ProxyRequest.Options.Set(MeshRoutingHandler.GatewayRouteOption, route);
            if (IsGrpc(request.ContentType))
            {
                transform.ProxyRequest.Version = HttpVersion.Version20;
                transform.ProxyRequest.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            }
            else
            {
                transform.ProxyRequest.Version = HttpVersion.Version11;
                transform.ProxyRequest.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
            }

            return ValueTask.CompletedTask;
        });
    }

    // gRPC needs HTTP/2 end to end; any other request goes upstream as HTTP/1.1, as an Envoy gateway sends to an HTTP
    // port whatever the client spoke.
    private static bool IsGrpc(string? contentType) => contentType is not null && contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);
}
