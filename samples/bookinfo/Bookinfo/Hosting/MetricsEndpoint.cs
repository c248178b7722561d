using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Metrics;

namespace Bookinfo.Hosting;

/// <summary>
/// A service's Prometheus endpoint, <c>/stats/prometheus</c> on a port of its own (<c>--metrics-port</c>, 15020 by
/// default), as Istio's sidecars expose a workload's metrics on 15020 and 15090. It is a separate small web server that
/// does not join the mesh: Prometheus scrapes it in plaintext whatever PeerAuthentication says, and scrapes are not
/// counted as mesh requests. The Istio metrics (<c>istio_requests_total</c>, …) and gRPC's A66 metrics come from the
/// process-wide Mesh.Client and Mesh.Server meters, through OpenTelemetry's Prometheus exporter.
/// </summary>
internal static class MetricsEndpoint
{
    /// <summary>Istio's path for Prometheus metrics.</summary>
    public const string Path = "/stats/prometheus";

    /// <summary>The line a service prints once its metrics endpoint listens; the launcher reads the URL from it.</summary>
    public const string ListeningLine = "bookinfo: metrics on ";

    /// <summary>Starts the metrics server of <paramref name="service"/>; returns it and the URL Prometheus scrapes.</summary>
    public static async Task<(WebApplication Server, Uri Url)> StartAsync(ServiceArguments service)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(service.Listen, service.MetricsPort, listen => listen.Protocols = HttpProtocols.Http1));
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeshInstrumentation().AddPrometheusExporter());
        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint(Path);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(new Uri(address), Path));
    }
}
