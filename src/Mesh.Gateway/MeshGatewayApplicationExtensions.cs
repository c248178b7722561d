using Mesh.Gateway;
using Mesh.Gateway.Hosting;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Model;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Runs the Mesh gateway's request pipeline.</summary>
public static class MeshGatewayApplicationExtensions
{
    /// <summary>
    /// Adds the gateway's request pipeline to <paramref name="app"/>: each request is stamped with the server port it
    /// arrived on (replacing anything a client sent), routed by YARP to its port's virtual host, redirected to https
    /// when the host's server sets httpsRedirect and the connection is plaintext, then forwarded through Mesh.Client.
    /// </summary>
    /// <param name="app">The application (requires <c>AddMeshGateway()</c>).</param>
    /// <returns>The application.</returns>
    public static WebApplication UseMeshGateway(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(static (context, next) =>
        {
            if (context.Features.Get<GatewayConnectionFeature>() is { } connection)
            {
                context.Request.Headers[GatewayDefaults.ServerPortHeader] = connection.ServerPort;
            }
            else
            {
                context.Request.Headers.Remove(GatewayDefaults.ServerPortHeader);
            }

            return next(context);
        });
        app.UseRouting();
        app.MapReverseProxy(static pipeline =>
        {
            pipeline.Use(static (context, next) => RedirectToHttps(context) ? Task.CompletedTask : next(context));
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });
        return app;
    }

    private static bool RedirectToHttps(HttpContext context)
    {
        var metadata = context.GetReverseProxyFeature().Route.Config.Metadata;
        if (metadata is null || !metadata.TryGetValue(GatewayDefaults.RequireTlsMetadata, out var requireTls) || requireTls != "true"
            || context.Features.Get<GatewayConnectionFeature>()?.IsTls == true)
        {
            return false;
        }

        // Envoy's require_tls: 301 to the same host and path over https, on https' own port.
        context.Response.StatusCode = StatusCodes.Status301MovedPermanently;
        context.Response.Headers.Location = "https://" + context.Request.Host.Host + context.Request.PathBase + context.Request.Path + context.Request.QueryString;
        return true;
    }
}
