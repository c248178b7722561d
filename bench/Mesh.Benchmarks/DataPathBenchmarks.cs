using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Mesh.Bench;

namespace Mesh.Benchmarks;

/// <summary>
/// The data path side by side: each benchmark makes <see cref="Calls"/> calls (as <see cref="Concurrency"/> workers each
/// making their share in sequence), so every number is per call. Baselines are the plain channel / plain HttpClient
/// in each category.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class DataPathBenchmarks
{
    /// <summary>Calls per benchmark invocation.</summary>
    public const int Calls = 256;

    private DataPathEnvironment _environment = null!;

    [Params(1, 64)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup() => _environment = DataPathEnvironment.StartAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => _environment.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    [BenchmarkCategory("unary")]
    public Task Unary_Plain() => RunAsync(static e => e.UnaryAsync(e.Plain));

    [Benchmark(OperationsPerInvoke = Calls)]
    [BenchmarkCategory("unary")]
    public Task Unary_MeshChannel() => RunAsync(static e => e.UnaryAsync(e.MeshChannel));

    [Benchmark(OperationsPerInvoke = Calls)]
    [BenchmarkCategory("unary")]
    public Task Unary_Mesh() => RunAsync(static e => e.UnaryAsync(e.Mesh));

    [Benchmark(OperationsPerInvoke = Calls)]
    [BenchmarkCategory("unary")]
    public Task Unary_MeshPolicies() => RunAsync(static e => e.UnaryAsync(e.MeshPolicies));

    [Benchmark(OperationsPerInvoke = Calls)]
    [BenchmarkCategory("unary")]
    public Task Unary_Mesh100Routes() => RunAsync(static e => e.UnaryAsync(e.MeshRoutes));

    [Benchmark(OperationsPerInvoke = Calls)]
    [BenchmarkCategory("unary")]
    public Task Unary_MeshPoliciesOneRoute() => RunAsync(static e => e.UnaryAsync(e.MeshRetry));

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    [BenchmarkCategory("stream")]
    public Task Stream_Plain() => RunAsync(static e => e.StreamAsync(e.Plain));

    [Benchmark(OperationsPerInvoke = Calls)]
    [BenchmarkCategory("stream")]
    public Task Stream_Mesh() => RunAsync(static e => e.StreamAsync(e.Mesh));

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    [BenchmarkCategory("http")]
    public Task Http_Plain() => RunAsync(static e => DataPathEnvironment.GetAsync(e.PlainHttp));

    [Benchmark(OperationsPerInvoke = Calls)]
    [BenchmarkCategory("http")]
    public Task Http_Mesh() => RunAsync(static e => DataPathEnvironment.GetAsync(e.MeshHttp));

    private Task RunAsync(Func<DataPathEnvironment, Task> call)
    {
        if (Concurrency == 1)
        {
            return WorkerAsync(_environment, call, Calls);
        }

        var workers = new Task[Concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = WorkerAsync(_environment, call, Calls / Concurrency);
        }

        return Task.WhenAll(workers);
    }

    private static async Task WorkerAsync(DataPathEnvironment environment, Func<DataPathEnvironment, Task> call, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await call(environment).ConfigureAwait(false);
        }
    }
}
