using System.Diagnostics;
using System.Globalization;
using Envoy.Service.Discovery.V3;
using Envoy.Service.LoadStats.V3;
using Grpc.Net.Client;

namespace Mesh.LoadHarness;

/// <summary>
/// Control-plane scale: a control plane in a child process serving <c>--services</c> services (10 endpoints each), and
/// <c>--clients</c> simulated clients in this process, each subscribed to 20 services (svc0 and 19 others) on its own
/// ADS stream, <c>--streams-per-connection</c> streams sharing one HTTP/2 connection (Kestrel's default limit is 100);
/// <c>--delta-percent P</c> of them speak delta (incremental) ADS, the rest state-of-the-world.
/// Measures the initial sync, then a route change (svc0's VirtualService weights) and an endpoint-only change
/// (svc0's ServiceEntry gets one more endpoint): time from the file write to each client's ACK of the new version
/// (p50/p99/max), the control plane's CPU seconds, and which response types were sent.
/// <c>--churn P</c> then measures both changes again while P % of the clients reconnect every second (drawn in turn from
/// a churn group of 10 % of the clients), over the clients outside that group, against the same clients' figures
/// without churn. <c>--stuck K</c> then adds K clients that never read (<see cref="StuckAdsClient"/>), measures both
/// changes again, and reports the control plane's RSS while they are connected and when each was disconnected.
/// <c>--replicas R</c> runs R control-plane processes on the same files and spreads the clients' connections over them
/// (figures are summed over the replicas). <c>--send-timeout-s S</c> sets the control plane's send timeout (how long a response may wait for a client to read).
/// With <c>--lrs</c> it runs twice, side by side: once as above, once with the control plane asking for load reports
/// (LRS) every <c>--lrs-interval-s</c> seconds (10 by default) and every simulated client reporting the load of its 20
/// clusters at that interval from a random phase (on connections of their own, as many streams per connection), the
/// changes measured once every client has reported; then it prints both runs' convergence figures and their ratio.
/// The run ends with a compact table of every figure.
/// </summary>
internal static class ControlPlaneScale
{
    private const int Endpoints = 10;

    public static async Task<int> RunAsync(string[] args)
    {
        var settings = new ScaleSettings(
            Clients: Program.Option(args, "--clients", 1000),
            Services: Program.Option(args, "--services", 100),
            PerClient: Program.Option(args, "--subscribe", 20),
            PerConnection: Program.Option(args, "--streams-per-connection", 100),
            DeltaPercent: Program.Option(args, "--delta-percent", 0),
            ChurnPercent: Program.Option(args, "--churn", 0),
            Stuck: Program.Option(args, "--stuck", 0),
            SendTimeoutSeconds: Program.Option(args, "--send-timeout-s", 0),
            Replicas: Program.Option(args, "--replicas", 1));
        var compare = args.Contains("--lrs");
        var interval = TimeSpan.FromSeconds(Program.Option(args, "--lrs-interval-s", 10));
        Console.WriteLine($"control-plane scale: {settings.Replicas} replica(s), {settings.Clients} clients ({settings.DeltaPercent} % delta) x {settings.PerClient} services of {settings.Services} ({Endpoints} endpoints each), {settings.PerConnection} streams per HTTP/2 connection, {Environment.ProcessorCount} cores, load average {LoadAverage()}, {DateTime.UtcNow:u}");
        if (!compare)
        {
            var result = await RunOnceAsync(settings, loadReporting: null).ConfigureAwait(false);
            PrintTable(settings, result);
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
            withoutRuns.Add(await RunOnceAsync(settings, loadReporting: null).ConfigureAwait(false));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} of {rounds}, run 2 of 2: every client reports its load (LRS) every {interval.TotalSeconds:0.###} s"));
            withRuns.Add(await RunOnceAsync(settings, interval).ConfigureAwait(false));
        }

        PrintComparison(settings.Clients, interval, rounds, Median(withoutRuns), Median(withRuns));
        return 0;
    }

    /// <summary>Each compared figure's median over the runs (the upper one of an even count).</summary>
    private static ScaleResult Median(List<ScaleResult> runs)
    {
        static double Of(List<ScaleResult> runs, Func<ScaleResult, double> figure)
        {
            var values = runs.Select(figure).Order().ToArray();
            return values[values.Length / 2];
        }

        return new ScaleResult
        {
            SyncSeconds = Of(runs, r => r.SyncSeconds),
            Route = new Convergence(Of(runs, r => r.Route.P50), Of(runs, r => r.Route.P99), Of(runs, r => r.Route.All)),
            Endpoint = new Convergence(Of(runs, r => r.Endpoint.P50), Of(runs, r => r.Endpoint.P99), Of(runs, r => r.Endpoint.All)),
            TotalCpuSeconds = Of(runs, r => r.TotalCpuSeconds),
            ReportsDuringChanges = (int)Of(runs, r => r.ReportsDuringChanges),
        };
    }

    private static async Task<ScaleResult> RunOnceAsync(ScaleSettings settings, TimeSpan? loadReporting)
    {
        var (clients, services, perService, perConnection) = (settings.Clients, settings.Services, settings.PerClient, settings.PerConnection);
        var directory = Path.Combine(Path.GetTempPath(), "mesh-scale-" + Guid.NewGuid().ToString("N"));
        ScaleYaml.WriteAll(directory, services, Endpoints, static (s, e) => 20000 + (s * Endpoints) + e);
        var serveArguments = new List<string> { "--config-dir", directory };
        if (loadReporting is { } lrsInterval)
        {
            serveArguments.Add("--load-reporting-interval-ms");
            serveArguments.Add(((int)lrsInterval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        }

        if (settings.SendTimeoutSeconds > 0)
        {
            serveArguments.Add("--send-timeout-s");
            serveArguments.Add(settings.SendTimeoutSeconds.ToString(CultureInfo.InvariantCulture));
        }

        using var controlPlane = new ControlPlaneGroup(settings.Replicas, serveArguments);
        using var cancel = new CancellationTokenSource();
        var channels = new List<GrpcChannel>();
        var tasks = new List<Task>();
        var stuckTasks = new List<Task>();
        var sims = new AdsSimClient[clients];
        var simTasks = new Task[clients];
        var simCancels = new CancellationTokenSource[clients];
        var adsOf = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient[clients];
        var result = new ScaleResult();
        try
        {
            await Task.Delay(500).ConfigureAwait(false);
            var idleHeap = controlPlane.ManagedHeapBytes();
            var idleRss = controlPlane.ResidentBytes;
            var cpuStart = controlPlane.CpuTime;
            var allocatedStart = controlPlane.AllocatedBytes();
            Console.WriteLine($"  idle: RSS {Mb(idleRss)} MB, managed heap {Mb(idleHeap)} MB");

            AggregatedDiscoveryService.AggregatedDiscoveryServiceClient? ads = null;
            var deltaEvery = settings.DeltaPercent > 0 ? Math.Max(1, 100 / settings.DeltaPercent) : 0;
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < clients; i++)
            {
                if (i % perConnection == 0)
                {
                    var channel = NewChannel(controlPlane.XdsAddressFor(i / perConnection));
                    channels.Add(channel);
                    ads = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
                }

                var listeners = new List<string>(perService) { "svc0:9080" };
                for (var k = 0; k < perService - 1; k++)
                {
                    listeners.Add($"svc{1 + ((i * (perService - 1)) + k) % (services - 1)}:9080");
                }

                adsOf[i] = ads!;
                simCancels[i] = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
                sims[i] = new AdsSimClient(i, listeners, delta: deltaEvery > 0 && i % deltaEvery == deltaEvery - 1);
                simTasks[i] = sims[i].RunAsync(ads!, simCancels[i].Token);
            }

            await WaitAllAsync(sims.Select(s => s.Synced.Task), TimeSpan.FromMinutes(10)).ConfigureAwait(false);
            result.SyncSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            result.SyncCpuSeconds = (controlPlane.CpuTime - cpuStart).TotalSeconds;
            result.SyncAllocatedKbPerClient = (controlPlane.AllocatedBytes() - allocatedStart) / 1024.0 / clients;
            await Task.Delay(1000).ConfigureAwait(false);
            var connectedRss = controlPlane.ResidentBytes;
            var connectedHeap = controlPlane.ManagedHeapBytes();
            result.RssPerClientKb = (connectedRss - idleRss) / 1024.0 / clients;
            result.HeapPerClientKb = (connectedHeap - idleHeap) / 1024.0 / clients;
            result.ConnectedRssMb = connectedRss / 1024.0 / 1024.0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  initial sync of all {clients}: {result.SyncSeconds:F2} s, control plane CPU {result.SyncCpuSeconds:F2} s, allocated {result.SyncAllocatedKbPerClient:F1} KB per client"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  connected: RSS {Mb(connectedRss)} MB, managed heap {Mb(connectedHeap)} MB; per client: RSS {result.RssPerClientKb:F1} KB, managed {result.HeapPerClientKb:F1} KB"));

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
                        var channel = NewChannel(controlPlane.XdsAddressFor(i / perConnection));
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

            var everyone = Enumerable.Range(0, clients).ToArray();
            var reportsBefore = reporters.Sum(r => r.Reports);
            var vsWeight = 50;
            var endpointCount = Endpoints + 1;
            Task<Change> RouteChangeAsync(string label, int[] measured)
            {
                var weight = vsWeight;
                vsWeight = vsWeight == 50 ? 70 : 50;
                return ChangeAsync($"route change{label} (svc0 VirtualService -> {weight}/{100 - weight})", AdsSimClient.Rds, sims, measured, controlPlane,
                    () => ScaleYaml.Replace(directory, "svc0-vs.yaml", ScaleYaml.VirtualService(0, weight)));
            }

            Task<Change> EndpointChangeAsync(string label, int[] measured)
            {
                var count = endpointCount++;
                return ChangeAsync($"endpoint-only change{label} (svc0 gets endpoint {count})", AdsSimClient.Eds, sims, measured, controlPlane,
                    () => ScaleYaml.Replace(directory, "svc0-se.yaml", ScaleYaml.ServiceEntry(0, count, static (s, e) => 20000 + (s * Endpoints) + e)));
            }

            var route = await RouteChangeAsync(string.Empty, everyone).ConfigureAwait(false);
            var endpoint = await EndpointChangeAsync(string.Empty, everyone).ConfigureAwait(false);
            result.Rows.Add(new Row("no churn, all clients", clients, route.Of(everyone), endpoint.Of(everyone), route.CpuSeconds + endpoint.CpuSeconds, string.Empty, route.AllocatedPerClient, endpoint.AllocatedPerClient));
            result.Route = route.Of(everyone);
            result.Endpoint = endpoint.Of(everyone);
            result.ReportsDuringChanges = reporters.Sum(r => r.Reports) - reportsBefore;

            if (settings.ChurnPercent > 0)
            {
                // A churn group of 10 % (at least the number reconnecting per second); the others are measured.
                var perSecond = Math.Max(1, clients * settings.ChurnPercent / 100);
                var groupSize = Math.Min(clients - 1, Math.Max(perSecond, clients / 10));
                var group = Enumerable.Range(clients - groupSize, groupSize).ToArray();
                var others = Enumerable.Range(0, clients - groupSize).ToArray();
                result.Rows.Add(new Row("no churn, the non-churning clients", others.Length, route.Of(others), endpoint.Of(others), double.NaN, "(the run above, fewer clients)"));
                using var stopChurn = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
                var churn = new ChurnLoop(perSecond, group, sims, simTasks, simCancels, adsOf, cancel.Token);
                var churning = churn.RunAsync(stopChurn.Token);
                await Task.Delay(2000).ConfigureAwait(false); // churn under way
                var churnRoute = await RouteChangeAsync(", 1 % churn", others).ConfigureAwait(false);
                var churnEndpoint = await EndpointChangeAsync(", 1 % churn", others).ConfigureAwait(false);
                await stopChurn.CancelAsync().ConfigureAwait(false);
                await churning.ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  churn: {churn.Reconnects} reconnects ({perSecond}/s from a group of {groupSize}); a reconnected client resynced in p50 {churn.ResyncP(0.5):F0} ms, p99 {churn.ResyncP(0.99):F0} ms"));
                result.Rows.Add(new Row($"{settings.ChurnPercent} % churn ({perSecond}/s), the others", others.Length, churnRoute.Of(others), churnEndpoint.Of(others),
                    churnRoute.CpuSeconds + churnEndpoint.CpuSeconds,
                    string.Create(CultureInfo.InvariantCulture, $"route p99 x{churnRoute.Of(others).P99 / route.Of(others).P99:F2}, endpoint p99 x{churnEndpoint.Of(others).P99 / endpoint.Of(others).P99:F2} (target <= 1.20)")));
            }

            if (settings.Stuck > 0)
            {
                var before = controlPlane.ResidentBytes;
                var stuck = new StuckAdsClient[settings.Stuck];
                for (var i = 0; i < stuck.Length; i++)
                {
                    stuck[i] = new StuckAdsClient(i);
                    stuckTasks.Add(stuck[i].RunAsync(controlPlane.XdsAddressFor(i), cancel.Token));
                }

                await Task.Delay(2000).ConfigureAwait(false); // their responses are stuck behind flow control by now
                var whileStuck = controlPlane.ResidentBytes;
                var stuckRoute = await RouteChangeAsync(", stuck clients", everyone).ConfigureAwait(false);
                var stuckEndpoint = await EndpointChangeAsync(", stuck clients", everyone).ConfigureAwait(false);
                var connectedStuck = stuck.Count(s => s.DisconnectedAfter is null);
                var deadline = DateTime.UtcNow.AddSeconds((settings.SendTimeoutSeconds > 0 ? settings.SendTimeoutSeconds : 30) + 30);
                while (stuck.Any(s => s.DisconnectedAfter is null) && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(200).ConfigureAwait(false);
                }

                var after = controlPlane.ResidentBytes;
                var disconnected = stuck.Where(s => s.DisconnectedAfter is not null).Select(s => s.DisconnectedAfter!.Value.TotalSeconds).Order().ToArray();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  stuck clients: RSS {Mb(before)} MB before, {Mb(whileStuck)} MB with {settings.Stuck} stuck ({(whileStuck - before) / 1024.0 / settings.Stuck:F0} KB each), {Mb(after)} MB after; {connectedStuck} still connected after both changes; {disconnected.Length} of {settings.Stuck} disconnected by the control plane, after {(disconnected.Length > 0 ? disconnected[0] : double.NaN):F1}-{(disconnected.Length > 0 ? disconnected[^1] : double.NaN):F1} s; peak RSS {Mb(controlPlane.PeakResidentBytes)} MB"));
                result.Rows.Add(new Row($"{settings.Stuck} never-reading clients", clients, stuckRoute.Of(everyone), stuckEndpoint.Of(everyone), stuckRoute.CpuSeconds + stuckEndpoint.CpuSeconds,
                    string.Create(CultureInfo.InvariantCulture, $"RSS +{(whileStuck - before) / 1024.0 / 1024.0:F1} MB while stuck; {disconnected.Length}/{settings.Stuck} disconnected")));
            }

            result.TotalCpuSeconds = (controlPlane.CpuTime - cpuStart).TotalSeconds;
            result.PeakRssMb = controlPlane.PeakResidentBytes / 1024.0 / 1024.0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  control plane totals: CPU {result.TotalCpuSeconds:F2} s since clients started; peak RSS {Mb(controlPlane.PeakResidentBytes)} MB"));
            if (loadReporting is not null)
            {
                Console.WriteLine($"  load reports written while the changes were measured: {result.ReportsDuringChanges}");
            }

            return result;
        }
        finally
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(tasks.Concat(stuckTasks).Concat(simTasks.Where(t => t is not null))).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or Grpc.Core.RpcException)
            {
            }

            foreach (var channel in channels)
            {
                channel.Dispose();
            }

            foreach (var simCancel in simCancels)
            {
                simCancel?.Dispose();
            }

            var errors = controlPlane.Stop(); // before its directory goes, so it does not report the directory missing
            Console.WriteLine($"  control plane log: {errors.Errors} error and {errors.Warnings} warning lines");
            Directory.Delete(directory, recursive: true);
        }
    }

    private static GrpcChannel NewChannel(Uri address) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        });

    private static void PrintTable(ScaleSettings settings, ScaleResult result)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{settings.Clients} clients ({settings.DeltaPercent} % delta) on {settings.Replicas} control-plane replica(s) (figures summed over them), {settings.PerClient} of {settings.Services} services each; write -> ACK in ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  initial sync {result.SyncSeconds:F2} s (CPU {result.SyncCpuSeconds:F2} s); per client {result.RssPerClientKb:F1} KB RSS, {result.HeapPerClientKb:F1} KB managed; RSS connected {result.ConnectedRssMb:F0} MB, peak {result.PeakRssMb:F0} MB"));
        Console.WriteLine($"  {"scenario",-38} {"measured",8} {"route p50",9} {"p99",6} {"all",6} {"endp p50",9} {"p99",6} {"all",6} {"CPU s",6}  notes");
        foreach (var row in result.Rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {row.Scenario,-38} {row.Measured,8} {row.Route.P50,9:F0} {row.Route.P99,6:F0} {row.Route.All,6:F0} {row.Endpoint.P50,9:F0} {row.Endpoint.P99,6:F0} {row.Endpoint.All,6:F0} {row.CpuSeconds,6:F2}  {row.Notes}"));
        }

        if (result.Rows.Count > 0 && !double.IsNaN(result.Rows[0].RouteBytesPerClient))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  control plane allocations per connected client: initial sync {result.SyncAllocatedKbPerClient:F1} KB, route change {result.Rows[0].RouteBytesPerClient:F0} B, endpoint change {result.Rows[0].EndpointBytesPerClient:F0} B"));
        }
    }

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

    /// <summary>
    /// Makes a change and waits until every client in <paramref name="measured"/> ACKed a new version of
    /// <paramref name="type"/>; the latencies of all clients are kept, by index, so a subset can be summarised.
    /// </summary>
    private static async Task<Change> ChangeAsync(string what, int type, AdsSimClient[] sims, int[] measured, ControlPlaneGroup controlPlane, Action change)
    {
        var versions = sims.Select(s => s.AckedVersion[type]).ToArray();
        var received = Totals(sims, measured);
        var cpu = controlPlane.CpuTime;
        var allocated = controlPlane.AllocatedBytes();
        var start = Stopwatch.GetTimestamp();
        change();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (Array.Exists(measured, i => sims[i].AckedVersion[type] == versions[i]))
        {
            if (DateTime.UtcNow > deadline)
            {
                var behind = measured.Where(i => sims[i].AckedVersion[type] == versions[i]).ToArray();
                var sample = sims[behind[0]];
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                    $"{what}: {behind.Length} of {measured.Length} clients did not ACK a new version in 2 minutes; the first, sim-{sample.Id}, has received {string.Join('/', sample.Received)} LDS/RDS/CDS/EDS responses and holds version {versions[behind[0]]}; its stream {(sample.Ended is { } ended ? "ended: " + ended : "is open")}"));
            }

            await Task.Delay(5).ConfigureAwait(false);
        }

        var converged = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var convergedCpu = (controlPlane.CpuTime - cpu).TotalSeconds;
        await Task.Delay(2000).ConfigureAwait(false); // let anything else the change caused arrive, to count it
        var allocatedPerClient = (controlPlane.AllocatedBytes() - allocated) / (double)sims.Length;
        var latencies = sims.Select(s => Stopwatch.GetElapsedTime(start, Volatile.Read(ref s.AckedAt[type])).TotalMilliseconds).ToArray();
        var after = Totals(sims, measured);
        var changeResult = new Change(latencies, convergedCpu, allocatedPerClient);
        var summary = changeResult.Of(measured);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {what}: write -> ACK p50 {summary.P50:F0} ms, p99 {summary.P99:F0} ms, all {converged * 1000:F0} ms; control plane CPU {convergedCpu:F2} s, allocated {allocatedPerClient:F0} bytes per connected client"));
        Console.WriteLine(
            $"    responses sent to the {measured.Length} measured clients after the change: LDS {after[0] - received[0]}, RDS {after[1] - received[1]}, CDS {after[2] - received[2]}, EDS {after[3] - received[3]}");
        return changeResult;
    }

    private static int[] Totals(AdsSimClient[] sims, int[] measured)
    {
        var totals = new int[4];
        foreach (var i in measured)
        {
            for (var t = 0; t < 4; t++)
            {
                totals[t] += Volatile.Read(ref sims[i].Received[t]);
            }
        }

        return totals;
    }

    private static async Task WaitAllAsync(IEnumerable<Task> tasks, TimeSpan timeout) =>
        await Task.WhenAll(tasks).WaitAsync(timeout).ConfigureAwait(false);

    private static string Mb(long bytes) => (bytes / 1024.0 / 1024.0).ToString("F1", CultureInfo.InvariantCulture);

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>The run's options.</summary>
    private sealed record ScaleSettings(int Clients, int Services, int PerClient, int PerConnection, int DeltaPercent, int ChurnPercent, int Stuck, int SendTimeoutSeconds, int Replicas);

    /// <summary>One change: every client's write → ACK latency in ms (by index) and the control plane's CPU until the measured ones converged.</summary>
    private sealed record Change(double[] Latencies, double CpuSeconds, double AllocatedPerClient)
    {
        public Convergence Of(int[] measured)
        {
            var sorted = new double[measured.Length];
            for (var k = 0; k < measured.Length; k++)
            {
                sorted[k] = Latencies[measured[k]];
            }

            Array.Sort(sorted);
            return new Convergence(sorted[sorted.Length / 2], sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))], sorted[^1]);
        }
    }

    /// <summary>One change's convergence: write → ACK p50 and p99, and until every client ACKed, in milliseconds.</summary>
    private readonly record struct Convergence(double P50, double P99, double All);

    /// <summary>One row of the final table.</summary>
    private sealed record Row(string Scenario, int Measured, Convergence Route, Convergence Endpoint, double CpuSeconds, string Notes, double RouteBytesPerClient = double.NaN, double EndpointBytesPerClient = double.NaN);

    /// <summary>One run's figures.</summary>
    private sealed class ScaleResult
    {
        public double SyncSeconds { get; set; }
        public double SyncCpuSeconds { get; set; }
        public double SyncAllocatedKbPerClient { get; set; }
        public double RssPerClientKb { get; set; }
        public double HeapPerClientKb { get; set; }
        public double ConnectedRssMb { get; set; }
        public double PeakRssMb { get; set; }
        public Convergence Route { get; set; }
        public Convergence Endpoint { get; set; }
        public double TotalCpuSeconds { get; set; }
        public int ReportsDuringChanges { get; set; }
        public List<Row> Rows { get; } = [];
    }
}
