using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Envoy.Config.Endpoint.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Testing.Kubernetes;
using Mesh.Xds;

namespace Mesh.LoadHarness;

/// <summary>
/// Kubernetes scale (issue 13): the fake Kubernetes API server of the tests in this process, a control plane in a child
/// process reading it (<c>--kubernetes --kubeconfig</c>), and <c>--clients</c> simulated ADS clients here, each subscribed
/// to <c>--subscribe</c> services. It loads <c>--services</c> Services with <c>--endpoints</c> Pods each and one
/// EndpointSlice per Service through the API server, then writes <c>--rate</c> endpoint changes per second for
/// <c>--seconds</c>: each change replaces one endpoint of one Service's slice with a new address (a Pod replaced), the
/// Services taken in turn. For every change it measures the time from the write into the API server's store to the
/// moment the last client subscribed to that Service ACKed an EDS response holding the new endpoint; and the control
/// plane's CPU time and peak resident memory.
/// </summary>
/// <remarks>
/// Endpoint addresses encode (service, generation): <c>10.x.y.z</c> with the 24 bits <c>service &lt;&lt; 14 | generation</c>.
/// A service starts with generations 0..N-1 and change <c>g</c> puts generation <c>g</c> into slot <c>g mod N</c>, so the
/// highest generation among a client's endpoints for a service is the latest change it has.
/// </remarks>
internal static class KubernetesScale
{
    private const int Port = 9080;
    private const int GenerationBits = 14;

    public static async Task<int> RunAsync(string[] args)
    {
        var services = Program.Option(args, "--services", 1000);
        var endpoints = Program.Option(args, "--endpoints", 10);
        var clients = Program.Option(args, "--clients", 1000);
        var perClient = Math.Min(Program.Option(args, "--subscribe", 10), services);
        var rate = Program.Option(args, "--rate", 100);
        var seconds = Program.Option(args, "--seconds", 60);
        var perConnection = Program.Option(args, "--streams-per-connection", 100);
        if (services > 1 << (24 - GenerationBits) || endpoints + ((long)rate * seconds / services) + 1 >= 1 << GenerationBits)
        {
            Console.Error.WriteLine("k8s-scale: at most 1024 services, and fewer than 16384 generations per service");
            return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"k8s-scale: {services} Services x {endpoints} endpoints (Pods + one EndpointSlice each) through a fake API server; {clients} ADS clients x {perClient} services; {rate} endpoint changes/s for {seconds} s; {Environment.ProcessorCount} cores, {DateTime.UtcNow:u}"));

        var directory = Path.Combine(Path.GetTempPath(), "mesh-k8s-scale-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var channels = new List<GrpcChannel>();
        var tasks = new List<Task>();
        using var cancel = new CancellationTokenSource();
        try
        {
            await using var api = await FakeKubernetesApiServer.StartAsync().ConfigureAwait(false);
            var kubeconfig = Path.Combine(directory, "kubeconfig");
            await File.WriteAllTextAsync(kubeconfig, api.CreateKubeconfig()).ConfigureAwait(false);
            var serve = new List<string> { "--kubeconfig", kubeconfig, "--ca-dir", Path.Combine(directory, "ca") };
            foreach (var option in (string[])["--debounce-quiet", "--debounce-max"])
            {
                if (Array.IndexOf(args, option) is >= 0 and var i && i + 1 < args.Length)
                {
                    serve.Add(option);
                    serve.Add(args[i + 1]);
                }
            }

            using var controlPlane = ControlPlaneProcess.Start(serve);
            var cpuStart = controlPlane.CpuTime;
            var idleRss = controlPlane.ResidentBytes;

            // Load: every Service, its Pods and its EndpointSlice, written into the API server as a controller would.
            var generation = new int[services];
            var loadStarted = Stopwatch.GetTimestamp();
            for (var s = 0; s < services; s++)
            {
                api.Store.Upsert(KubernetesObjects.Service(ServiceName(s), Port, portName: "grpc", appProtocol: "grpc"));
                for (var e = 0; e < endpoints; e++)
                {
                    api.Store.Upsert(KubernetesObjects.Pod(PodName(s, e), new Dictionary<string, string> { ["app"] = ServiceName(s), ["version"] = "v1" }));
                }

                generation[s] = endpoints - 1;
                api.Store.Upsert(Slice(s, endpoints, generation[s]));
            }

            var written = Stopwatch.GetElapsedTime(loadStarted).TotalSeconds;
            await WaitServedAsync(controlPlane.XdsAddress, services, endpoints, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            var loaded = Stopwatch.GetElapsedTime(loadStarted).TotalSeconds;
            var loadCpu = (controlPlane.CpuTime - cpuStart).TotalSeconds;

            // Clients: client i subscribes to services (i * perClient + k) mod services.
            var observers = new EndpointObserver[clients];
            var subscribers = new List<int>[services];
            for (var s = 0; s < services; s++)
            {
                subscribers[s] = [];
            }

            var sims = new AdsSimClient[clients];
            AggregatedDiscoveryService.AggregatedDiscoveryServiceClient? ads = null;
            var connectStarted = Stopwatch.GetTimestamp();
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

                var listeners = new List<string>(perClient);
                var subscribed = new int[perClient];
                for (var k = 0; k < perClient; k++)
                {
                    var s = ((i * perClient) + k) % services;
                    subscribed[k] = s;
                    subscribers[s].Add(i);
                    listeners.Add($"{ServiceName(s)}:{Port}");
                }

                observers[i] = new EndpointObserver(subscribed);
                sims[i] = new AdsSimClient(i, listeners) { EndpointsAcked = observers[i].OnAcked };
                tasks.Add(sims[i].RunAsync(ads!, cancel.Token));
            }

            await Task.WhenAll(sims.Select(s => s.Synced.Task)).WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            var synced = Stopwatch.GetElapsedTime(connectStarted).TotalSeconds;
            var connectedRss = controlPlane.ResidentBytes;

            // Churn: change k at start + k / rate, services in turn.
            var total = rate * seconds;
            var changes = new (int Service, int Generation, long WrittenAt)[total];
            var received = TotalEds(sims);
            var cpuBefore = controlPlane.CpuTime;
            var churnStarted = Stopwatch.GetTimestamp();
            var lateWrites = 0;
            for (var k = 0; k < total; k++)
            {
                var due = TimeSpan.FromSeconds((double)k / rate) - Stopwatch.GetElapsedTime(churnStarted);
                if (due > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(due).ConfigureAwait(false);
                }
                else if (due < TimeSpan.FromMilliseconds(-50))
                {
                    lateWrites++;
                }

                var s = k % services;
                var g = ++generation[s];
                var slice = Slice(s, endpoints, g);
                changes[k] = (s, g, Stopwatch.GetTimestamp());
                api.Store.Upsert(slice);
            }

            var churnSeconds = Stopwatch.GetElapsedTime(churnStarted).TotalSeconds;
            var churnCpu = (controlPlane.CpuTime - cpuBefore).TotalSeconds;

            // Converge: wait (bounded) until every subscriber has every change it should.
            var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 30);
            while (Stopwatch.GetTimestamp() < deadline && !AllSeen(observers, subscribers, generation))
            {
                await Task.Delay(50).ConfigureAwait(false);
            }

            var latencies = new List<double>(total);
            var unobserved = 0;
            var unsubscribed = 0;
            foreach (var (s, g, at) in changes)
            {
                if (subscribers[s].Count == 0)
                {
                    unsubscribed++;
                    continue;
                }

                var last = 0L;
                foreach (var c in subscribers[s])
                {
                    var seen = observers[c].FirstAckAtLeast(s, g);
                    if (seen == 0)
                    {
                        last = 0;
                        break;
                    }

                    last = Math.Max(last, seen);
                }

                if (last == 0)
                {
                    unobserved++;
                }
                else
                {
                    latencies.Add(Stopwatch.GetElapsedTime(at, last).TotalMilliseconds);
                }
            }

            latencies.Sort();
            var after = TotalEds(sims);
            var totalCpu = (controlPlane.CpuTime - cpuStart).TotalSeconds;
            var peakRss = controlPlane.PeakResidentBytes;
            var heap = controlPlane.ManagedHeapBytes();

            var rows = new List<(string, string)>
            {
                ("objects written (Services, Pods, EndpointSlices)", F($"{services * (endpoints + 2)} in {written:F2} s")),
                ("load: first write -> every endpoint served", F($"{loaded:F2} s, control plane CPU {loadCpu:F2} s")),
                ("clients connected -> all synced", F($"{synced:F2} s ({clients} clients, {subscribers.Sum(l => l.Count) / (double)services:F1} subscribers per service)")),
                ("changes written", F($"{total} in {churnSeconds:F1} s ({total / churnSeconds:F0}/s, {lateWrites} written > 50 ms late)")),
                ("change -> every subscriber ACKed: p50", Ms(latencies, 0.50)),
                ("                                  p90", Ms(latencies, 0.90)),
                ("                                  p99", Ms(latencies, 0.99)),
                ("                                  max", latencies.Count == 0 ? "-" : F($"{latencies[^1]:F0} ms")),
                ("changes not seen by every subscriber in 30 s", F($"{unobserved} (plus {unsubscribed} to services nobody subscribes to)")),
                ("EDS responses during churn", F($"{after - received} ({(after - received) / churnSeconds:F0}/s)")),
                ("control plane CPU during churn", F($"{churnCpu:F2} s ({churnCpu / churnSeconds:F2} cores)")),
                ("control plane CPU in total", F($"{totalCpu:F2} s")),
                ("control plane RSS: idle / with clients / peak", F($"{Mb(idleRss)} / {Mb(connectedRss)} / {Mb(peakRss)} MB")),
                ("control plane managed heap at the end", F($"{Mb(heap)} MB")),
            };
            var width = rows.Max(r => r.Item1.Length);
            foreach (var (name, value) in rows)
            {
                Console.WriteLine($"  {name.PadRight(width)}  {value}");
            }

            Console.WriteLine(latencies.Count > 0 && latencies[(int)Math.Min(latencies.Count - 1, latencies.Count * 0.99)] <= 1000 && unobserved == 0
                ? "  target p99 <= 1 s: met"
                : "  target p99 <= 1 s: NOT met");
            return unobserved == 0 ? 0 : 1;
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

    internal static string ServiceName(int service) => "svc" + service.ToString(CultureInfo.InvariantCulture);

    private static string PodName(int service, int slot) => F($"svc{service}-{slot}");

    internal static string Address(int service, int generation)
    {
        var value = (service << GenerationBits) | generation;
        return F($"10.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}");
    }

    /// <summary>The (service, generation) an address encodes, or (-1, -1).</summary>
    internal static (int Service, int Generation) Decode(string address)
    {
        var parts = address.Split('.');
        if (parts.Length != 4 || parts[0] != "10")
        {
            return (-1, -1);
        }

        var value = (int.Parse(parts[1], CultureInfo.InvariantCulture) << 16) | (int.Parse(parts[2], CultureInfo.InvariantCulture) << 8) | int.Parse(parts[3], CultureInfo.InvariantCulture);
        return (value >> GenerationBits, value & ((1 << GenerationBits) - 1));
    }

    /// <summary>Service <paramref name="service"/>'s slice when its latest generation is <paramref name="latest"/>.</summary>
    private static JsonObject Slice(int service, int endpoints, int latest)
    {
        var list = new (string Address, string Pod)[endpoints];
        for (var g = latest - endpoints + 1; g <= latest; g++)
        {
            list[g % endpoints] = (Address(service, g), PodName(service, g % endpoints));
        }

        return KubernetesObjects.EndpointSlice(ServiceName(service) + "-abcde", ServiceName(service), Port, list, portName: "grpc");
    }

    /// <summary>Waits until one ADS stream asking for every service's load assignment sees all of them complete.</summary>
    private static async Task WaitServedAsync(Uri xds, int services, int endpoints, TimeSpan timeout)
    {
        await using var probe = new AdsTestClient(xds, "k8s-scale-probe");
        var names = Enumerable.Range(0, services).Select(s => $"outbound|{Port}||{ServiceName(s)}.default.svc.cluster.local").ToArray();
        var complete = new HashSet<string>(StringComparer.Ordinal);
        await probe.SendAsync(XdsTypeUrls.ClusterLoadAssignment, names).ConfigureAwait(false);
        var deadline = DateTime.UtcNow + timeout;
        while (complete.Count < services)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException(F($"only {complete.Count} of {services} services were served with {endpoints} endpoints in {timeout}"));
            }

            var response = await probe.ReceiveAsync(left).ConfigureAwait(false);
            foreach (var any in response.Resources)
            {
                var assignment = any.Unpack<ClusterLoadAssignment>();
                var count = assignment.Endpoints.Sum(l => l.LbEndpoints.Count);
                if (count >= endpoints)
                {
                    complete.Add(assignment.ClusterName);
                }
                else
                {
                    complete.Remove(assignment.ClusterName);
                }
            }

            await probe.AckAsync(response, names).ConfigureAwait(false);
        }
    }

    private static bool AllSeen(EndpointObserver[] observers, List<int>[] subscribers, int[] generation)
    {
        for (var s = 0; s < subscribers.Length; s++)
        {
            foreach (var c in subscribers[s])
            {
                if (observers[c].Latest(s) < generation[s])
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static long TotalEds(AdsSimClient[] sims)
    {
        long total = 0;
        foreach (var sim in sims)
        {
            total += Volatile.Read(ref sim.Received[AdsSimClient.Eds]);
        }

        return total;
    }

    private static string Ms(List<double> sorted, double quantile) =>
        sorted.Count == 0 ? "-" : F($"{sorted[(int)Math.Min(sorted.Count - 1, sorted.Count * quantile)]:F0} ms");

    private static string Mb(long bytes) => (bytes / 1024.0 / 1024.0).ToString("F1", CultureInfo.InvariantCulture);

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// What one client has ACKed: per subscribed service, the generations it saw rise through and when. Written by the
    /// client's stream loop, read by the harness under the same lock.
    /// </summary>
    private sealed class EndpointObserver
    {
        private readonly Dictionary<int, int> _slot = [];
        private readonly int[] _latest;
        private readonly List<(int Generation, long At)>[] _history;

        public EndpointObserver(int[] services)
        {
            _latest = new int[services.Length];
            _history = new List<(int, long)>[services.Length];
            for (var i = 0; i < services.Length; i++)
            {
                _slot[services[i]] = i;
                _latest[i] = -1;
                _history[i] = [];
            }
        }

        public void OnAcked(AdsSimClient client, DiscoveryResponse response, long at)
        {
            foreach (var any in response.Resources)
            {
                var assignment = any.Unpack<ClusterLoadAssignment>();
                int service = -1, highest = -1;
                foreach (var locality in assignment.Endpoints)
                {
                    foreach (var endpoint in locality.LbEndpoints)
                    {
                        var (s, g) = Decode(endpoint.Endpoint.Address.SocketAddress.Address);
                        if (s >= 0 && g > highest)
                        {
                            (service, highest) = (s, g);
                        }
                    }
                }

                if (service >= 0 && _slot.TryGetValue(service, out var slot))
                {
                    lock (_history[slot])
                    {
                        if (highest > _latest[slot])
                        {
                            _latest[slot] = highest;
                            _history[slot].Add((highest, at));
                        }
                    }
                }
            }
        }

        public int Latest(int service)
        {
            var slot = _slot[service];
            lock (_history[slot])
            {
                return _latest[slot];
            }
        }

        /// <summary>When the client first ACKed generation <paramref name="generation"/> or later of a service, or 0.</summary>
        public long FirstAckAtLeast(int service, int generation)
        {
            var slot = _slot[service];
            lock (_history[slot])
            {
                foreach (var (g, at) in _history[slot])
                {
                    if (g >= generation)
                    {
                        return at;
                    }
                }
            }

            return 0;
        }
    }
}
