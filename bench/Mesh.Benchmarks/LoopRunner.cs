using System.Diagnostics;
using System.Globalization;

namespace Mesh.Benchmarks;

/// <summary>
/// One path called in a loop for a while, to attach a sampling profiler to (<c>dotnet-trace collect --profile
/// cpu-sampling -p PID</c>): <c>loop PATH SECONDS CONCURRENCY</c>, PATH one of plain, channel, mesh, policies, routes, retry.
/// Prints the process id first, then waits two seconds so the profiler can attach before the measured part.
/// </summary>
internal static class LoopRunner
{
    public static async Task<int> RunAsync(string[] args)
    {
        Func<DataPathEnvironment, Task> call = args[0] switch
        {
            "plain" => static e => e.UnaryAsync(e.Plain),
            "channel" => static e => e.UnaryAsync(e.MeshChannel),
            "mesh" => static e => e.UnaryAsync(e.Mesh),
            "policies" => static e => e.UnaryAsync(e.MeshPolicies),
            "routes" => static e => e.UnaryAsync(e.MeshRoutes),
            "retry" => static e => e.UnaryAsync(e.MeshRetry),
            _ => throw new ArgumentException($"unknown path '{args[0]}'"),
        };
        var seconds = double.Parse(args[1], CultureInfo.InvariantCulture);
        var concurrency = int.Parse(args[2], CultureInfo.InvariantCulture);
        await using var environment = await DataPathEnvironment.StartAsync().ConfigureAwait(false);
        Console.WriteLine($"pid {Environment.ProcessId}");
        var until = Stopwatch.GetTimestamp() + (long)((seconds + 2) * Stopwatch.Frequency);
        var calls = 0L;
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < until)
                {
                    await call(environment).ConfigureAwait(false);
                    Interlocked.Increment(ref calls);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{args[0]}: {calls} calls in {seconds + 2:F0} s"));
        return 0;
    }
}
