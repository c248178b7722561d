using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Mesh.Benchmarks;

// "latency": per-call p50/p99 and throughput for every path, measured by LatencyRunner (BenchmarkDotNet's
// percentiles are over iterations, not calls). Anything else goes to BenchmarkDotNet.
if (args is ["allocations", ..])
{
    return await AllocationProfile.RunAsync(args[1..]).ConfigureAwait(false);
}

if (args is ["loop", _, _, _])
{
    return await LoopRunner.RunAsync(args[1..]).ConfigureAwait(false);
}

if (args is ["latency", ..])
{
    return await LatencyRunner.RunAsync(args[1..]).ConfigureAwait(false);
}

// A short job so the whole suite finishes in minutes on a 2-core machine; in-process so no benchmark project is
// generated and built per run. Pass BenchmarkDotNet's own options (--filter, --job, --profiler) to change that.
var config = DefaultConfig.Instance
    .AddJob(Job.Default
        .WithToolchain(InProcessEmitToolchain.Instance)
        .WithLaunchCount(1)
        .WithWarmupCount(3)
        .WithIterationCount(8)
        .WithId("Short-InProcess"))
    .AddColumn(StatisticColumn.P50, StatisticColumn.P95, StatisticColumn.OperationsPerSecond)
    .WithOptions(ConfigOptions.JoinSummary);
BenchmarkSwitcher.FromAssembly(typeof(DataPathBenchmarks).Assembly).Run(args, config);
return 0;
