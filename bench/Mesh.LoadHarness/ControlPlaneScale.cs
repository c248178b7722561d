using System.Diagnostics;
using System.Globalization;
using Envoy.Service.Discovery.V3;
using Envoy.Service.LoadStats.V3;
using Grpc.Net.Client;

namespace Mesh.LoadHarness;

/// <summary>
/// Control-plane scale: a control plane in a child process serving <c>--services</c> services (10 endpoints each), and
/// <c>--clients</c> simulated clients in this process, each subscribed to 20 services (svc0 and 19 others) on its own
/// ADS stream, <c>--streams-per-connection</c> streams sharing one HTTP/2 connection (Kestrel's default limit is 100).
/// Measures the initial sync, then a route change (svc0's VirtualService weights) and an endpoint-only change
/// (svc0's ServiceEntry gets one more endpoint): time from the file write to each client's ACK of the new version
/// (p50/p99/max), the control plane's CPU seconds, and which response types were sent.
/// With <c>--lrs</c> it runs twice, side by side: once as above, once with the control plane asking for load reports
/// (LRS) every <c>--lrs-interval-s</c> seconds (10 by default) and every simulated client reporting the load of its 20
/// clusters at that interval from a random phase (on connections of their own, as many streams per connection), the
/// changes measured once every client has reported; then it prints both runs' convergence figures and their ratio.
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
        var compare = args.Contains("--lrs");
        var interval = TimeSpan.FromSeconds(Program.Option(args, "--lrs-interval-s", 10));
        Console.WriteLine($"control-plane scale: {clients} clients x {perService} services of {services} ({Endpoints} endpoints each), {perConnection} streams per HTTP/2 connection, {Environment.ProcessorCount} cores, {DateTime.UtcNow:u}");
        if (!compare)
        {
            await RunOnceAsync(clients, services, perService, perConnection, loadReporting: null).ConfigureAwait(false);
            return 0;
        }

        // Alternating rounds, each on a fresh control-plane process, and the median of each figure: one pair of runs
        // differs by more than 10 % from the next on this machine whatever LRS does (run order, JIT, the page cache).
        var rounds = Math.Max(1, Program.Option(args, "--rounds", 1));
        var withoutRuns = new List<ScaleResult>();
        var withRuns = new List<ScaleResult>();
        for (var round = 1; round <= rounds; round++)
        {
            Console.WriteLine($"round {round} of {rounds}, run 1 of 2: without load reporting");
            withoutRuns.Add(await RunOnceAsync(clients, services, perService, perConnection, loadReporting: null).ConfigureAwait(false));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} of {rounds}, run 2 of 2: every client reports its load (LRS) every {interval.TotalSeconds:0.###} s"));
            withRuns.Add(await RunOnceAsync(clients, services, perService, perConnection, interval).ConfigureAwait(false));
        }

        PrintComparison(clients, interval, rounds, Median(withoutRuns), Median(withRuns));
        return 0;
    }

    /// <summary>Each figure's median over the runs (the upper one of an even count).</summary>
    private static ScaleResult Median(List<ScaleResult> runs)
    {
        static double Of(List<ScaleResult> runs, Func<ScaleResult, double> figure)
        {
            var values = runs.Select(figure).Order().ToArray();
            return values[values.Length / 2];
        }

        return new ScaleResult(
            Of(runs, r => r.SyncSeconds),
            new Convergence(Of(runs, r => r.Route.P50), Of(runs, r => r.Route.P99), Of(runs, r => r.Route.All)),
            new Convergence(Of(runs, r => r.Endpoint.P50), Of(runs, r => r.Endpoint.P99), Of(runs, r => r.Endpoint.All)),
            Of(runs, r => r.TotalCpuSeconds),
            (int)Of(runs, r => r.ReportsDuringChanges));
    }

    private static async Task<ScaleResult> RunOnceAsync(int clients, int services, int perService, int perConnection, TimeSpan? loadReporting)
    {
        var directory = Path.Combine(Path.GetTempPath(), "mesh-scale-" + Guid.NewGuid().ToString("N"));
        ScaleYaml.WriteAll(directory, services, Endpoints, static (s, e) => 20000 + (s * Endpoints) + e);
        var controlPlane = ControlPlaneProcess.Start(directory, backend: false, loadReporting);
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
                    var channel = NewChannel(controlPlane);
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

            var reporters = new List<LrsSimClient>();
            if (loadReporting is { } interval)
            {
                // Every client reports on an LRS stream of its own (on separate connections: Kestrel allows 100 streams on
                // one); the changes are measured once a whole interval has passed, so every client reports during them.
                LoadReportingService.LoadReportingServiceClient? lrs = null;
                for (var i = 0; i < clients; i++)
                {
                    if (i % perConnection == 0)
                    {
                        var channel = NewChannel(controlPlane);
                        channels.Add(channel);
                        lrs = new LoadReportingService.LoadReportingServiceClient(channel);
                    }

                    var reporter = new LrsSimClient(sims[i].Node, sims[i].Clusters);
                    reporters.Add(reporter);
                    tasks.Add(reporter.RunAsync(lrs!, cancel.Token));
                }

                await Task.Delay(interval + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                var reporting = reporters.Count(r => r.Reports > 0);
                Console.WriteLine($"  load reporting: {reporting} of {clients} clients have reported, {reporters.Sum(r => r.Reports)} reports so far");
            }

            var reportsBefore = reporters.Sum(r => r.Reports);
            var route = await ChangeAsync("route change (svc0 VirtualService 90/10 -> 50/50)", AdsSimClient.Rds, sims, controlPlane,
                () => ScaleYaml.Replace(directory, "svc0-vs.yaml", ScaleYaml.VirtualService(0, 50))).ConfigureAwait(false);
            var endpoint = await ChangeAsync("endpoint-only change (svc0 gets an 11th endpoint)", AdsSimClient.Eds, sims, controlPlane,
                () => ScaleYaml.Replace(directory, "svc0-se.yaml", ScaleYaml.ServiceEntry(0, Endpoints + 1, static (s, e) => 20000 + (s * Endpoints) + e))).ConfigureAwait(false);
            var reportsDuring = reporters.Sum(r => r.Reports) - reportsBefore;

            var totalCpu = (controlPlane.CpuTime - cpuStart).TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  control plane totals: CPU {totalCpu:F2} s since clients started; peak RSS {Mb(controlPlane.PeakResidentBytes)} MB"));
            if (loadReporting is not null)
            {
                Console.WriteLine($"  load reports written while the changes were measured: {reportsDuring}");
            }

            return new ScaleResult(syncSeconds, route, endpoint, totalCpu, reportsDuring);
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

            controlPlane.Dispose(); // before its directory goes, so it does not report the directory missing
            Directory.Delete(directory, recursive: true);
        }
    }

    private static GrpcChannel NewChannel(ControlPlaneProcess controlPlane) =>
        GrpcChannel.ForAddress(controlPlane.XdsAddress, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });

    /// <summary>Both runs' convergence figures side by side, and whether load reporting stayed within 10 % of the run without it.</summary>
    private static void PrintComparison(int clients, TimeSpan interval, int rounds, ScaleResult without, ScaleResult with)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"convergence with and without load reporting ({clients} clients, LRS every {interval.TotalSeconds:0.###} s; {(rounds > 1 ? $"median of {rounds} alternating rounds" : "one round")}; target: within 10 %)"));
        Console.WriteLine("  figure                          without LRS    with LRS    with/without  within 10 %");
        void Row(string name, double a, double b, string unit)
        {
            var ratio = a > 0 ? b / a : double.NaN;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-30} {a,10:F0} {unit,-2} {b,9:F0} {unit,-2} {ratio,10:F2}    {(ratio <= 1.10 ? "yes" : "no")}"));
        }

        Row("initial sync", without.SyncSeconds * 1000, with.SyncSeconds * 1000, "ms");
        Row("route change p50", without.Route.P50, with.Route.P50, "ms");
        Row("route change p99", without.Route.P99, with.Route.P99, "ms");
        Row("route change, all clients", without.Route.All, with.Route.All, "ms");
        Row("endpoint change p50", without.Endpoint.P50, with.Endpoint.P50, "ms");
        Row("endpoint change p99", without.Endpoint.P99, with.Endpoint.P99, "ms");
        Row("endpoint change, all clients", without.Endpoint.All, with.Endpoint.All, "ms");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {"control plane CPU, whole run",-30} {without.TotalCpuSeconds,10:F2} s  {with.TotalCpuSeconds,9:F2} s  {(without.TotalCpuSeconds > 0 ? with.TotalCpuSeconds / without.TotalCpuSeconds : double.NaN),10:F2}    (not a target)"));
        Console.WriteLine($"  load reports written during the two changes (with LRS): {with.ReportsDuringChanges}");
    }

    private static async Task<Convergence> ChangeAsync(string what, int type, AdsSimClient[] sims, ControlPlaneProcess controlPlane, Action change)
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
        return new Convergence(latencies[latencies.Length / 2], latencies[(int)(latencies.Length * 0.99)], converged * 1000);
    }

    /// <summary>One change's convergence: write → ACK p50 and p99, and until every client ACKed, in milliseconds.</summary>
    private readonly record struct Convergence(double P50, double P99, double All);

    /// <summary>One run's figures.</summary>
    private sealed record ScaleResult(double SyncSeconds, Convergence Route, Convergence Endpoint, double TotalCpuSeconds, int ReportsDuringChanges);

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
