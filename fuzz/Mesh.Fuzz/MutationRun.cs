using System.Diagnostics;

namespace Mesh.Fuzz;

/// <summary>
/// The in-process engine: feeds a target mutated seeds for a bounded time. Stops at the first exception the target lets
/// escape (a crash), returning the input; also reports the slowest input, since a parser that takes seconds on a small
/// input is a denial of service.
/// </summary>
internal static class MutationRun
{
    /// <summary>Runs the seeds, then mutations until <paramref name="duration"/> has passed and at least <paramref name="minimumMutations"/> ran.</summary>
    public static MutationResult Run(string target, IReadOnlyList<byte[]> corpus, TimeSpan duration, int seed, int minimumMutations = 0)
    {
        var run = FuzzTargets.All[target].Run;
        var mutator = new Mutator(corpus, seed);
        var clock = Stopwatch.StartNew();
        var executions = 0;
        var slowest = TimeSpan.Zero;
        byte[] slowestInput = [];

        // Every seed as it is first, then mutations.
        foreach (var input in corpus)
        {
            if (Execute(run, input, ref executions, ref slowest, ref slowestInput) is { } crash)
            {
                return new MutationResult(target, executions, clock.Elapsed, input, crash, slowest, slowestInput);
            }
        }

        for (var mutations = 0; clock.Elapsed < duration || mutations < minimumMutations; mutations++)
        {
            var input = mutator.Next();
            if (Execute(run, input, ref executions, ref slowest, ref slowestInput) is { } crash)
            {
                return new MutationResult(target, executions, clock.Elapsed, input, crash, slowest, slowestInput);
            }
        }

        return new MutationResult(target, executions, clock.Elapsed, null, null, slowest, slowestInput);
    }

    private static Exception? Execute(Action<byte[]> run, byte[] input, ref int executions, ref TimeSpan slowest, ref byte[] slowestInput)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            run(input);
        }
        catch (Exception ex)
        {
            return ex;
        }
        finally
        {
            executions++;
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (elapsed > slowest)
            {
                (slowest, slowestInput) = (elapsed, input);
            }
        }

        return null;
    }
}
