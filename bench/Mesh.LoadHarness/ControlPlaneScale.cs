using System.Diagnostics;
using System.Globalization;
using Envoy.Service.Discovery.V3;
using Grpc.Net.Client;

namespace Mesh.LoadHarness;

/// <summary>
/// Control-plane scale: a control plane in a child process serving <c>--services</c> services (10 endpoints each), and
/// <c>--clients</c> simulated clients in this process, each subscribed to 20 services (svc0 and 19 others) on its own
/// ADS stream, <c>--streams-per-connection</c> streams sharing one HTTP/2 connection (Kestrel's default limit is 100).
/// Measures the initial sync, then a route change (svc0's VirtualService weights) and an endpoint-only change
/// (svc0's ServiceEntry gets one more endpoint): time from the file write to each client's ACK of the new version
/// (p50/p99/max), the control plane's CPU seconds, and which response types were sent.
/// </summary>
internal static class ControlPlaneScale
{
    private const int Endpoints = 10;

    public static async Task<int> RunAsync(string[] args)
    {
        var clients = Program.Option(args, "--clients", 1000);
        var services = Program.Option(args, "--services", 100);
        var perService = Program.Option(args, "--subscribe", 20);
        var perConnection = Program.Option(args, "--streams-per-connection", 100);
        var directory = Path.Combine(Path.GetTempPath(), "mesh-scale-" + Guid.NewGuid().ToString("N"));
        ScaleYaml.WriteAll(directory, services, Endpoints, static (s, e) => 20000 + (s * Endpoints) + e);
        Console.WriteLine($"control-plane scale: {clients} clients x {perService} services of {services} ({Endpoints} endpoints each), {perConnection} streams per HTTP/2 connection, {Environment.ProcessorCount} cores, {DateTime.UtcNow:u}");

        using var controlPlane = ControlPlaneProcess.Start(directory, backend: false);
        using var cancel = new CancellationTokenSource();
        var channels = new List<GrpcChannel>();
        var tasks = new List<Task>();
        try
        {
            await Task.Delay(500).ConfigureAwait(false);
            var idleHeap = controlPlane.ManagedHeapBytes();
            var idleRss = controlPlane.ResidentBytes;
            var cpuStart = controlPlane.CpuTime;
            Console.WriteLine($"  idle: RSS {Mb(idleRss)} MB, managed heap {Mb(idleHeap)} MB");

            var sims = new AdsSimClient[clients];
            AggregatedDiscoveryService.AggregatedDiscoveryServiceClient? ads = null;
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < clients; i++)
            {
                if (i % perConnection == 0)
                {
                    var channel = GrpcChannel.ForAddress(controlPlane.XdsAddress, new GrpcChannelOptions
                    {
                        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
                        MaxReceiveMessageSize = 64 * 1024 * 1024,
                    });
                    channels.Add(channel);
                    ads = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
                }

                var listeners = new List<string>(perService) { "svc0:9080" };
                for (var k = 0; k < perService - 1; k++)
                {
                    listeners.Add($"svc{1 + ((i * (perService - 1)) + k) % (services - 1)}:9080");
                }

                sims[i] = new AdsSimClient(i, listeners);
                tasks.Add(sims[i].RunAsync(ads!, cancel.Token));
            }

            await WaitAllAsync(sims.Select(s => s.Synced.Task), TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            var syncSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var syncCpu = (controlPlane.CpuTime - cpuStart).TotalSeconds;
            await Task.Delay(1000).ConfigureAwait(false);
            var connectedRss = controlPlane.ResidentBytes;
            var connectedHeap = controlPlane.ManagedHeapBytes();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  initial sync of all {clients}: {syncSeconds:F2} s, control plane CPU {syncCpu:F2} s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  connected: RSS {Mb(connectedRss)} MB, managed heap {Mb(connectedHeap)} MB; per client: RSS {(connectedRss - idleRss) / 1024.0 / clients:F1} KB, managed {(connectedHeap - idleHeap) / 1024.0 / clients:F1} KB"));

            await ChangeAsync("route change (svc0 VirtualService 90/10 -> 50/50)", AdsSimClient.Rds, sims, controlPlane,
                () => ScaleYaml.Replace(directory, "svc0-vs.yaml", ScaleYaml.VirtualService(0, 50))).ConfigureAwait(false);
            await ChangeAsync("endpoint-only change (svc0 gets an 11th endpoint)", AdsSimClient.Eds, sims, controlPlane,
                () => ScaleYaml.Replace(directory, "svc0-se.yaml", ScaleYaml.ServiceEntry(0, Endpoints + 1, static (s, e) => 20000 + (s * Endpoints) + e))).ConfigureAwait(false);

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  control plane totals: CPU {(controlPlane.CpuTime - cpuStart).TotalSeconds:F2} s since clients started; peak RSS {Mb(controlPlane.PeakResidentBytes)} MB"));
            return 0;
        }
        finally
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or Grpc.Core.RpcException)
            {
            }

            foreach (var channel in channels)
            {
                channel.Dispose();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task ChangeAsync(string what, int type, AdsSimClient[] sims, ControlPlaneProcess controlPlane, Action change)
    {
        var versions = sims.Select(s => s.AckedVersion[type]).ToArray();
        var received = Totals(sims);
        var cpu = controlPlane.CpuTime;
        var start = Stopwatch.GetTimestamp();
        change();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (Enumerable.Range(0, sims.Length).Any(i => sims[i].AckedVersion[type] == versions[i]))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not every client ACKed a new version in 2 minutes");
            }

            await Task.Delay(5).ConfigureAwait(false);
        }

        var converged = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var convergedCpu = (controlPlane.CpuTime - cpu).TotalSeconds;
        await Task.Delay(2000).ConfigureAwait(false); // let anything else the change caused arrive, to count it
        var latencies = sims.Select(s => Stopwatch.GetElapsedTime(start, s.AckedAt[type]).TotalMilliseconds).Order().ToArray();
        var after = Totals(sims);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what}: write -> ACK p50 {latencies[latencies.Length / 2]:F0} ms, p99 {latencies[(int)(latencies.Length * 0.99)]:F0} ms, all {converged * 1000:F0} ms; control plane CPU {convergedCpu:F2} s"));
        Console.WriteLine(
            $"    responses sent after the change: LDS {after[0] - received[0]}, RDS {after[1] - received[1]}, CDS {after[2] - received[2]}, EDS {after[3] - received[3]}");
    }

    private static int[] Totals(AdsSimClient[] sims)
    {
        var totals = new int[4];
        foreach (var sim in sims)
        {
            for (var t = 0; t < 4; t++)
            {
                totals[t] += Volatile.Read(ref sim.Received[t]);
            }
        }

        return totals;
    }

    private static async Task WaitAllAsync(IEnumerable<Task> tasks, TimeSpan timeout) =>
        await Task.WhenAll(tasks).WaitAsync(timeout).ConfigureAwait(false);

    private static string Mb(long bytes) => (bytes / 1024.0 / 1024.0).ToString("F1", CultureInfo.InvariantCulture);
}
