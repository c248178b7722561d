using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>
/// The mesh dashboard on the HTTP port: the page (<c>/dashboard</c>) and its assets, one snapshot as JSON
/// (<c>/dashboard/snapshot</c>) and the live snapshots as server-sent events (<c>/dashboard/events</c>).
/// </summary>
internal static class DashboardEndpoints
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    /// <summary>Maps the dashboard into <paramref name="endpoints"/> (the debug pages' group: HTTP port only).</summary>
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        // Routing matches /dashboard/ here too: send it to /dashboard, which the page's relative links are written for.
        endpoints.MapGet("/dashboard", (HttpContext context) => context.Request.Path.Value?.EndsWith('/') == true
            ? Results.Redirect(context.Request.PathBase + "/dashboard")
            : Asset("index.html"));
        // Only the embedded files are found (no regex route constraint: the slim builder has none registered).
        endpoints.MapGet("/dashboard/{asset}", (string asset) => asset.EndsWith(".html", StringComparison.Ordinal) ? Results.NotFound() : Asset(asset));
        endpoints.MapGet("/dashboard/snapshot", (DashboardHub hub) => Results.Text(hub.BuildJson(), "application/json", Encoding.UTF8));
        endpoints.MapGet("/dashboard/events", Events);
    }

    private static IResult Asset(string name)
    {
        if (DashboardAssets.Find(name) is not { } file)
        {
            return Results.NotFound();
        }

        return Results.Bytes(file.Content, file.ContentType);
    }

    private static async Task Events(HttpContext context, DashboardHub hub)
    {
        using var subscription = hub.Subscribe();
        if (subscription is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsync(
                $"the dashboard already has {DashboardLimits.MaxEventClients} live viewers; close one, or poll /dashboard/snapshot", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers[HeaderNames.CacheControl] = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var cancellation = context.RequestAborted;
        try
        {
            await response.StartAsync(cancellation).ConfigureAwait(false);
            await foreach (var json in subscription.Reader.ReadAllAsync(cancellation).ConfigureAwait(false))
            {
                await response.Body.WriteAsync(DataPrefix, cancellation).ConfigureAwait(false);
                await response.Body.WriteAsync(Encoding.UTF8.GetBytes(json), cancellation).ConfigureAwait(false);
                await response.Body.WriteAsync(EventEnd, cancellation).ConfigureAwait(false);
                await response.Body.FlushAsync(cancellation).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The browser went away.
        }
        catch (IOException) when (cancellation.IsCancellationRequested)
        {
        }
    }
}
