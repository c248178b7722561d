using System.Globalization;
using Mesh.Benchmarks;
using Mesh.ControlPlane;
using Microsoft.Extensions.Logging;

namespace Mesh.LoadHarness;

/// <summary>
/// The child process: a control plane as <c>mesh-controlplane</c> builds it (ControlPlaneHost, default debounce of
/// 100 ms quiet / 1 s max, logging at Warning so 5,000 connections do not flood the console), optionally with the
/// benchmark backend. It reads <c>--config-dir DIR</c>, or a Kubernetes API server with <c>--kubeconfig PATH</c> (and
/// <c>--ca-dir DIR</c>); <c>--debounce-quiet MS</c> and <c>--debounce-max MS</c> override the debounce;
/// <c>--load-reporting-interval-ms N</c> asks every client for load reports (LRS) every N ms; <c>--send-timeout-s S</c> sets how
/// long a response may wait for a client that does not read. The TLS port is chosen by
/// the OS. Prints <c>backend PORT</c> and <c>xds URI</c>; answers <c>mem</c> (managed heap after a full collection) and <c>alloc</c> (bytes allocated so far) on stdin; stops at end of stdin.
/// </summary>
internal static class ServeMode
{
    public static async Task<int> RunAsync(string[] args)
    {
        var configDir = Value(args, "--config-dir");
        var kubeconfig = Value(args, "--kubeconfig");
        BenchBackend? backend = null;
        if (args.Contains("--backend"))
        {
            backend = await BenchBackend.StartAsync().ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"backend {backend.GrpcPort} {backend.HttpPort}"));
        }

        var options = new ControlPlaneOptions
        {
            ConfigDir = configDir,
            Kubernetes = kubeconfig is not null,
            Kubeconfig = kubeconfig,
            XdsPort = 0,
            HttpPort = 0,
            TlsPort = 0,
            CaDir = Value(args, "--ca-dir"),
        };
        if (Value(args, "--debounce-quiet") is { } quiet)
        {
            options.DebounceQuiet = TimeSpan.FromMilliseconds(int.Parse(quiet, CultureInfo.InvariantCulture));
        }

        if (Value(args, "--debounce-max") is { } max)
        {
            options.DebounceMax = TimeSpan.FromMilliseconds(int.Parse(max, CultureInfo.InvariantCulture));
        }

        if (Value(args, "--send-timeout-s") is { } sendTimeout)
        {
            options.XdsLimits.SendTimeout = TimeSpan.FromSeconds(int.Parse(sendTimeout, CultureInfo.InvariantCulture));
        }

        if (Array.IndexOf(args, "--load-reporting-interval-ms") is var lrs and >= 0)
        {
            options.LoadReporting = true;
            options.LoadReportingInterval = TimeSpan.FromMilliseconds(int.Parse(args[lrs + 1], CultureInfo.InvariantCulture));
        }

        var app = ControlPlaneHost.Build(options, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await app.StartAsync().ConfigureAwait(false);
        var (xds, _) = ControlPlaneHost.GetAddresses(app);
        Console.WriteLine($"xds {xds}");
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line == "mem")
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mem {GC.GetTotalMemory(forceFullCollection: true)}"));
            }
            else if (line == "alloc")
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"alloc {GC.GetTotalAllocatedBytes(precise: true)}"));
            }
        }

        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        if (backend is not null)
        {
            await backend.DisposeAsync().ConfigureAwait(false);
        }

        return 0;
    }

    private static string? Value(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
