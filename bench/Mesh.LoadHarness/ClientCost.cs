using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Bench;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.LoadHarness;

/// <summary>
/// What the client costs its process. A control plane and the backend run in a child process; this process is only the
/// client. <c>client-memory</c>: managed heap and RSS with 1 and then <c>--services</c> xds:/// channels, each resolved
/// and having made one call. <c>client-cpu</c>: this process's CPU seconds per wall second at a paced <c>--rps</c> of
/// unary calls for <c>--seconds</c>, over a plain channel and over an xds:/// channel with the Mesh invoker, alternating for
/// <c>--rounds</c> rounds (the first round still carries some JIT tiering).
/// </summary>
internal static class ClientCost
{
    public static async Task<int> RunAsync(string mode, string[] args)
    {
        var services = Program.Option(args, "--services", 200);
        var rps = Program.Option(args, "--rps", 1000);
        var seconds = Program.Option(args, "--seconds", 10);
        var directory = Path.Combine(Path.GetTempPath(), "mesh-client-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        using var controlPlane = ControlPlaneProcess.Start(directory, backend: true);
        var backendPort = controlPlane.BackendGrpcPort;
        // Written aside and moved into the watched directory in one rename, so the control plane never sees half of it.
        var staging = directory + "-staging";
        ScaleYaml.WriteAll(staging, mode == "client-memory" ? services : 1, 2, (_, _) => backendPort);
        Directory.Move(staging, Path.Combine(directory, "services"));
        var collection = new ServiceCollection().AddLogging();
        collection.AddMesh(o => o.BootstrapJson = $$$"""
            {
              "xds_servers": [{"server_uri": "{{{controlPlane.XdsAddress.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
              "node": {"id": "mesh-client-cost", "cluster": "bench", "metadata": {"NAMESPACE": "default"}}
            }
            """);
        await using var provider = collection.BuildServiceProvider();
        var channels = new List<GrpcChannel>();
        try
        {
            return mode == "client-memory"
                ? await MemoryAsync(provider, channels, services).ConfigureAwait(false)
                : await CpuAsync(provider, channels, controlPlane, rps, seconds, Program.Option(args, "--rounds", 2)).ConfigureAwait(false);
        }
        finally
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<int> MemoryAsync(ServiceProvider provider, List<GrpcChannel> channels, int services)
    {
        var request = new HelloRequest { Name = "bench" };
        var baselineHeap = Heap();
        var baselineRss = Rss();
        for (var s = 0; s < services; s++)
        {
            var target = $"xds:///svc{s}:9080";
            var channel = GrpcChannel.ForAddress(target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
            channels.Add(channel);
            var client = new Greeter.GreeterClient(channel.CreateMeshCallInvoker(provider, target));
            await CallUntilReadyAsync(client, request).ConfigureAwait(false);
            if (s == 0)
            {
                (baselineHeap, baselineRss) = (Heap(), Rss());
                Console.WriteLine($"client-memory: 1 service: managed heap {Mb(baselineHeap)} MB, RSS {Mb(baselineRss)} MB ({DateTime.UtcNow:u})");
            }
        }

        var heap = Heap();
        var rss = Rss();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"client-memory: {services} services: managed heap {Mb(heap)} MB, RSS {Mb(rss)} MB; per added service: managed {(heap - baselineHeap) / 1024.0 / (services - 1):F1} KB, RSS {(rss - baselineRss) / 1024.0 / (services - 1):F1} KB"));
        return 0;
    }

    private static async Task<int> CpuAsync(ServiceProvider provider, List<GrpcChannel> channels, ControlPlaneProcess controlPlane, int rps, int seconds, int rounds)
    {
        var plain = GrpcChannel.ForAddress($"http://127.0.0.1:{controlPlane.BackendGrpcPort}");
        var mesh = GrpcChannel.ForAddress("xds:///svc0:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        channels.AddRange([plain, mesh]);
        var request = new HelloRequest { Name = "bench" };
        var paths = new (string Name, Greeter.GreeterClient Client)[]
        {
            ("plain GrpcChannel", new Greeter.GreeterClient(plain)),
            ("xds:/// + Mesh invoker", new Greeter.GreeterClient(mesh.CreateMeshCallInvoker(provider, "xds:///svc0:9080"))),
        };
        foreach (var (_, client) in paths)
        {
            await CallUntilReadyAsync(client, request).ConfigureAwait(false);
            await PacedAsync(client, request, rps, 2).ConfigureAwait(false); // warm-up
        }

        Console.WriteLine($"client-cpu: {rps} rps of unary calls for {seconds} s per path; client process only ({Environment.ProcessorCount} cores, {DateTime.UtcNow:u})");
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var (name, client) in paths)
            {
                var process = Process.GetCurrentProcess();
                var cpu = process.TotalProcessorTime;
                var (achieved, wall) = await PacedAsync(client, request, rps, seconds).ConfigureAwait(false);
                process.Refresh();
                var used = (process.TotalProcessorTime - cpu).TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  round {round}, {name}: {achieved / wall:F0} rps achieved, {used / wall:F3} CPU-s/s = {used / wall * 1000 / (achieved / wall):F3} vCPU per 1,000 rps"));
            }
        }

        return 0;
    }

    /// <summary>Issues calls at <paramref name="rps"/> (topped up every 10 ms) for <paramref name="seconds"/>; returns the calls completed and the wall seconds.</summary>
    private static async Task<(int Calls, double Seconds)> PacedAsync(Greeter.GreeterClient client, HelloRequest request, int rps, int seconds)
    {
        var start = Stopwatch.GetTimestamp();
        var issued = 0;
        var total = rps * seconds;
        var inFlight = new List<Task>(total);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        while (issued < total && await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            var due = Math.Min(total, (int)(Stopwatch.GetElapsedTime(start).TotalSeconds * rps));
            for (; issued < due; issued++)
            {
                inFlight.Add(client.SayHelloAsync(request).ResponseAsync);
            }
        }

        await Task.WhenAll(inFlight).ConfigureAwait(false);
        return (issued, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static async Task CallUntilReadyAsync(Greeter.GreeterClient client, HelloRequest request)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await client.SayHelloAsync(request, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.ConfigureAwait(false);
                return;
            }
            catch (RpcException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static long Rss()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    private static string Mb(long bytes) => (bytes / 1024.0 / 1024.0).ToString("F1", CultureInfo.InvariantCulture);
}
