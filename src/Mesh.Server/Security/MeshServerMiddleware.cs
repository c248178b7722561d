using Mesh.Server.Authorization;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mesh.Server.Security;

/// <summary>
/// The request side of an xDS-enabled server: puts the caller's identity on the request (feature and
/// <c>HttpContext.User</c>) and enforces the listener's authorization (RBAC, gRFC A41) with the configuration in
/// force now — a policy change applies to the next request, also on open connections. Denied gRPC calls end with
/// PERMISSION_DENIED, other requests with 403, and each denial is logged with the caller's identity.
/// </summary>
internal sealed partial class MeshServerMiddleware(RequestDelegate next, ILogger<MeshServerMiddleware> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<MeshConnectionFeature>() is not { } connection)
        {
            return next(context);
        }

        context.Features.Set<IMeshPeerIdentityFeature>(connection);
        if (connection.PeerIdentity is { } peer)
        {
            context.User = Authentication.MeshPeerPrincipal.Create(peer, MeshServerDefaults.AuthenticationType);
        }

        var config = connection.Listener.Current;
        var chain = config?.Select(connection.IsTls);
        if (config is null || chain is null || !config.Authorization.TryGetValue(chain, out var authorization))
        {
            // The policy changed under an open connection (say PERMISSIVE → STRICT for a plaintext one). Close the
            // connection (GOAWAY) and answer UNAVAILABLE: the client's next connection follows its new configuration.
            context.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();
            Log.ConnectionNoLongerAccepted(logger, connection.IsTls ? "TLS" : "plaintext", context.Connection.RemoteIpAddress?.ToString() ?? "?", connection.Listener.Name);
            return Respond(context, grpcStatus: 14, httpStatus: StatusCodes.Status503ServiceUnavailable, "the connection's security is no longer accepted by this server; reconnect");
        }

        if (authorization.Engines.Count == 0)
        {
            return next(context);
        }

        var request = new RbacRequest
        {
            Method = context.Request.Method,
            Path = context.Request.Path.HasValue ? context.Request.PathBase.Add(context.Request.Path).Value! : "/",
            Authority = context.Request.Host.HasValue ? context.Request.Host.Value : null,
            Headers = context.Request.Headers,
            LocalAddress = context.Connection.LocalIpAddress,
            LocalPort = context.Connection.LocalPort,
            RemoteAddress = context.Connection.RemoteIpAddress,
            Peer = connection.RbacPeer,
        };
        var decision = authorization.Engines.Evaluate(request);
        return decision.IsAllowed ? next(context) : Deny(context, connection, "RBAC: access denied", decision.PolicyName);
    }

    private Task Deny(HttpContext context, MeshConnectionFeature connection, string message, string? policy)
    {
        Log.Denied(logger, context.Request.Method, context.Request.Path.Value ?? "/", connection.PeerIdentity?.ToString() ?? "(plaintext)", context.Connection.RemoteIpAddress?.ToString() ?? "?", policy ?? "(none)");
        return Respond(context, grpcStatus: 7, httpStatus: StatusCodes.Status403Forbidden, message);
    }

    private static Task Respond(HttpContext context, int grpcStatus, int httpStatus, string message)
    {
        var response = context.Response;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            // A trailers-only gRPC response: HTTP 200 with grpc-status in the headers.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/grpc";
            response.Headers["grpc-status"] = grpcStatus.ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers["grpc-message"] = message;
            return Task.CompletedTask;
        }

        response.StatusCode = httpStatus;
        response.ContentType = "text/plain";
        return response.WriteAsync(message);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Denied {Method} {Path} from {Peer} at {Remote} (policy {Policy}).")]
        public static partial void Denied(ILogger logger, string method, string path, string peer, string remote, string policy);

        [LoggerMessage(2, LogLevel.Information, "Closing a {Kind} connection from {Remote}: {Listener} no longer accepts it.")]
        public static partial void ConnectionNoLongerAccepted(ILogger logger, string kind, string remote, string listener);
    }
}
