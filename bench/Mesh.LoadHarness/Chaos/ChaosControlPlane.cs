using Mesh.ControlPlane;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// <c>chaos-cp [mesh-controlplane options]</c>: a control plane built exactly as the <c>mesh-controlplane</c> tool builds
/// it (same argument parser, same host), logging warnings to standard error. Prints <c>ready xds URI</c> once it serves;
/// stops when standard input closes (the driver's SIGKILL is the unclean way).
/// </summary>
internal static class ChaosControlPlane
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = new ControlPlaneOptions();
        if (ControlPlaneHost.ParseArguments(args.AsSpan(1).ToArray(), options) is { } error)
        {
            await Console.Error.WriteLineAsync(error).ConfigureAwait(false);
            return 2;
        }

        var app = ControlPlaneHost.Build(options, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o => (o.SingleLine, o.TimestampFormat) = (true, "HH:mm:ss.fff "));
            builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await app.StartAsync().ConfigureAwait(false);
        var (xds, _) = ControlPlaneHost.GetAddresses(app);
        Console.WriteLine($"ready xds {xds}");
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is not null)
        {
        }

        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return 0;
    }
}
