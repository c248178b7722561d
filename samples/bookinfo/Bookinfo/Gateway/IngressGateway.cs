using System.Net;
using Bookinfo.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Bookinfo.Gateway;

/// <summary>
/// <c>Bookinfo gateway</c>: the sample's ingress gateway, Mesh.Gateway (YARP configured over xDS) as the workload
/// labelled <c>istio: ingressgateway</c>. It serves the Gateway server port 8080 of config/bookinfo-gateway.yaml on
/// <c>--port</c>, and forwards through Mesh.Client like any other caller in the mesh.
/// </summary>
internal static class IngressGateway
{
    /// <summary>The Gateway server port the sample's bookinfo-gateway declares.</summary>
    public const int ServerPort = 8080;

    public static async Task<int> RunAsync(ServiceArguments service)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
        builder.Services.AddMeshGateway(o => o.Listeners[ServerPort] = new IPEndPoint(service.Listen, service.Port));
        var app = builder.Build();
        app.UseMeshGateway();
        try
        {
            await app.StartAsync();
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync($"{service.Workload}: cannot listen on {service.Listen}:{service.Port}: {ex.Message}");
            return 1;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine(BookinfoServer.ListeningLine + address);
        if (service.StopWithStdin)
        {
            _ = BookinfoServer.StopWhenStdinClosesAsync(app.Lifetime);
        }

        await app.WaitForShutdownAsync();
        return 0;
    }
}
