using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Bookinfo.Hosting;

/// <summary>
/// The one place where every Bookinfo service's server is set up: Kestrel, logging, and the mesh. A change here (for
/// example the mesh's server side, mTLS and authorization) applies to productpage, details, reviews and ratings alike.
/// </summary>
internal static class BookinfoServer
{
    /// <summary>The line a service prints once it listens; the launcher reads the address from it.</summary>
    public const string ListeningLine = "bookinfo: listening on ";

    /// <summary>A web application builder for <paramref name="service"/>, with the mesh added.</summary>
    public static WebApplicationBuilder CreateBuilder(ServiceArguments service)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);

        // The mesh, client side: every outgoing call goes through xDS (bootstrap from GRPC_XDS_BOOTSTRAP or
        // GRPC_XDS_BOOTSTRAP_CONFIG). Server side: every endpoint follows PeerAuthentication (mTLS with the workload
        // certificate) and AuthorizationPolicy. AddMeshServer comes before the endpoints, which it then applies to.
        builder.Services.AddMesh();
        builder.Services.AddMeshServer();

        // Traces: the mesh's client and server spans, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT says where
        // (a collector, Jaeger, Tempo...). The service name is Kiali's default for looking traces up: service.namespace.
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
        {
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService(service.Role + "." + Launcher.BookinfoLauncher.Namespace, serviceVersion: service.Version, serviceInstanceId: service.Workload))
                .WithTracing(tracing => tracing.AddMeshInstrumentation().AddOtlpExporter());
        }

        // productpage serves browsers (HTTP/1.1) and the rest serve gRPC over HTTP/2.
        var protocols = service.Role == "productpage" ? HttpProtocols.Http1 : HttpProtocols.Http2;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(service.Listen, service.Port, listen => listen.Protocols = protocols));
        builder.Services.AddSingleton(service);
        return builder;
    }

    /// <summary>Starts <paramref name="app"/>, prints the address it listens on, and runs until it is stopped.</summary>
    public static async Task<int> RunAsync(WebApplication app, ServiceArguments service)
    {
        try
        {
            await app.StartAsync();
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync($"{service.Workload}: cannot listen on {service.Listen}:{service.Port}: {ex.Message}");
            return 1;
        }

        WebApplication metrics;
        Uri metricsUrl;
        try
        {
            (metrics, metricsUrl) = await MetricsEndpoint.StartAsync(service);
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync($"{service.Workload}: cannot listen on {service.Listen}:{service.MetricsPort} for metrics: {ex.Message}");
            await app.StopAsync();
            return 1;
        }

        await using var stopMetrics = metrics;
        Console.WriteLine(MetricsEndpoint.ListeningLine + metricsUrl);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine(ListeningLine + address);
        if (service.StopWithStdin)
        {
            _ = StopWhenStdinClosesAsync(app.Lifetime);
        }

        await app.WaitForShutdownAsync();
        await metrics.StopAsync();
        return 0;
    }

    // The launcher keeps the write end of this process's stdin open for as long as it lives. However it ends — Ctrl+C,
    // a kill, a crash — the pipe closes, the read below returns end-of-file, and this service stops too.
    internal static async Task StopWhenStdinClosesAsync(IHostApplicationLifetime lifetime)
    {
        var stdin = Console.OpenStandardInput();
        var buffer = new byte[256];
        try
        {
            while (await stdin.ReadAsync(buffer, lifetime.ApplicationStopping) > 0)
            {
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (IOException)
        {
        }

        lifetime.StopApplication();
    }
}
