using System.Diagnostics;
using System.Globalization;
using Mesh.Bench;

namespace Mesh.Benchmarks;

/// <summary>
/// Per-call latency percentiles and throughput for every data path at concurrency 1 and 64, on the same
/// <see cref="DataPathEnvironment"/> as the BenchmarkDotNet suite. Paths are interleaved in rounds so background load
/// on a shared machine falls on all of them alike; samples from every round are pooled. Also reports this process's CPU
/// time per call (client and the in-process server together), which other processes' load disturbs less than latency.
/// </summary>
internal static class LatencyRunner
{
    private sealed record PathUnderTest(string Category, string Name, Func<DataPathEnvironment, Task> Call, bool Listen = false);

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = Option(args, "--rounds", 3);
        var calls = Option(args, "--calls", 5000);
        var paths = new PathUnderTest[]
        {
            new("unary", "plain GrpcChannel", static e => e.UnaryAsync(e.Plain)),
            new("unary", "xds:/// policy-free route, metrics off", static e => e.UnaryAsync(e.MeshChannel)),
            new("unary", "xds:/// policy-free route, metrics on, tracing unsampled", static e => e.UnaryAsync(e.MeshChannel), Listen: true),
            new("unary", "xds:/// + Mesh invoker", static e => e.UnaryAsync(e.Mesh)),
            new("unary", "xds:/// + 100 routes, all policies", static e => e.UnaryAsync(e.MeshPolicies)),
            new("unary", "xds:/// + 100 routes, no policies", static e => e.UnaryAsync(e.MeshRoutes)),
            new("unary", "xds:/// + 1 route, all policies, metrics off", static e => e.UnaryAsync(e.MeshRetry)),
            new("unary", "xds:/// + 1 route, all policies, metrics on, tracing unsampled", static e => e.UnaryAsync(e.MeshRetry), Listen: true),
            new("stream", "plain GrpcChannel", static e => e.StreamAsync(e.Plain)),
            new("stream", "xds:/// + Mesh invoker", static e => e.StreamAsync(e.Mesh)),
            new("http", "plain HttpClient", static e => DataPathEnvironment.GetAsync(e.PlainHttp)),
            new("http", "HttpClient + AddMeshRouting, metrics off", static e => DataPathEnvironment.GetAsync(e.MeshHttp)),
            new("http", "HttpClient + AddMeshRouting, metrics on, tracing unsampled", static e => DataPathEnvironment.GetAsync(e.MeshHttp), Listen: true),
        };

        await using var environment = await DataPathEnvironment.StartAsync().ConfigureAwait(false);
        Console.WriteLine($"latency: {rounds} rounds x {calls} calls per path and concurrency; {Environment.ProcessorCount} cores; {DateTime.UtcNow:u}");
        Console.WriteLine("Added = against the plain path of the category; 'on − off' = metrics on (tracing unsampled) against the same path with metrics off.");
        Console.WriteLine("| category | path | concurrency | calls/s | ratio | p50 µs | p99 µs | added p50 µs | added p99 µs | CPU µs/call | added CPU µs/call | on − off p50 µs | on − off CPU µs/call |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var concurrency in new[] { 1, 64 })
        {
            var samples = paths.Select(_ => new List<long>()).ToArray();
            var elapsed = new double[paths.Length];
            var cpu = new double[paths.Length];
            foreach (var path in paths)
            {
                using var warm = path.Listen ? TelemetryListeners.Start(tracing: true) : null;
                await MeasureAsync(environment, path.Call, concurrency, Math.Min(calls, 1000), null).ConfigureAwait(false); // warm-up
            }

            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < paths.Length; i++)
                {
                    using var listeners = paths[i].Listen ? TelemetryListeners.Start(tracing: true) : null;
                    var cpuBefore = Environment.CpuUsage.TotalTime;
                    elapsed[i] += await MeasureAsync(environment, paths[i].Call, concurrency, calls, samples[i]).ConfigureAwait(false);
                    cpu[i] += (Environment.CpuUsage.TotalTime - cpuBefore).TotalMicroseconds;
                }
            }

            var baseline = new Dictionary<string, (double Rate, double P50, double P99, double Cpu)>();
            var byName = new Dictionary<string, (double P50, double Cpu)>();
            for (var i = 0; i < paths.Length; i++)
            {
                var sorted = samples[i].ToArray();
                Array.Sort(sorted);
                var rate = sorted.Length / elapsed[i];
                var p50 = Micros(sorted[sorted.Length / 2]);
                var p99 = Micros(sorted[(int)(sorted.Length * 0.99)]);
                var cpuPerCall = cpu[i] / sorted.Length;
                var first = baseline.TryAdd(paths[i].Category, (rate, p50, p99, cpuPerCall));
                var b = baseline[paths[i].Category];
                byName[paths[i].Name] = (p50, cpuPerCall);
                var on = paths[i].Name.IndexOf(", metrics on", StringComparison.Ordinal);
                var (vsOffP50, vsOffCpu) = on > 0 && byName.TryGetValue(paths[i].Name[..on] + ", metrics off", out var off)
                    ? ((p50 - off.P50).ToString("F1", CultureInfo.InvariantCulture), (cpuPerCall - off.Cpu).ToString("F1", CultureInfo.InvariantCulture))
                    : ("", "");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {paths[i].Category} | {paths[i].Name} | {concurrency} | {rate:F0} | {rate / b.Rate:F2} | {p50:F0} | {p99:F0} | {(first ? "—" : (p50 - b.P50).ToString("F0", CultureInfo.InvariantCulture))} | {(first ? "—" : (p99 - b.P99).ToString("F0", CultureInfo.InvariantCulture))} | {cpuPerCall:F1} | {(first ? "—" : (cpuPerCall - b.Cpu).ToString("F1", CultureInfo.InvariantCulture))} | {vsOffP50} | {vsOffCpu} |"));
            }
        }

        return 0;
    }

    /// <summary>Runs <paramref name="calls"/> calls over <paramref name="concurrency"/> workers; returns the wall-clock seconds.</summary>
    private static async Task<double> MeasureAsync(DataPathEnvironment environment, Func<DataPathEnvironment, Task> call, int concurrency, int calls, List<long>? samples)
    {
        var perWorker = calls / concurrency;
        var results = new long[concurrency][];
        var started = Stopwatch.GetTimestamp();
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var mine = results[w] = new long[perWorker];
            workers[w] = Task.Run(async () =>
            {
                for (var i = 0; i < mine.Length; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await call(environment).ConfigureAwait(false);
                    mine[i] = Stopwatch.GetTimestamp() - start;
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (samples is not null)
        {
            foreach (var worker in results)
            {
                samples.AddRange(worker);
            }
        }

        return seconds;
    }

    private static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    private static int Option(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
