using Mesh.Fuzz;

namespace Mesh.Reliability.Tests.Fuzzing;

/// <summary>
/// The CI mode of fuzzing: every target gets its seed corpus and then mutated inputs for a bounded time (2,000
/// mutated inputs each from a fixed seed), in-process, through the same functions AFL++ runs (fuzz/run.sh for longer runs).
/// </summary>
public sealed class FuzzTargetsTests
{
    public static TheoryData<string> Targets => new(FuzzTargets.All.Keys);

    [Theory]
    [MemberData(nameof(Targets))]
    public void Target_SeedsAndMutationsForABoundedTime_NoCrash(string target)
    {
        var corpus = SeedCorpus.Generate([]).GetValueOrDefault(target)?.Select(s => s.Data).ToList() ?? [];
        Assert.NotEmpty(corpus);

        // A fixed number of mutated inputs (not a time budget): the same inputs on every machine, so a run that passes
        // here passes in CI, and an input that crashes is found by every run.
        var result = MutationRun.Run(target, corpus, TimeSpan.Zero, seed: 18, minimumMutations: 2000);

        Assert.True(result.Crash is null, $"{target} crashed after {result.Executions} inputs on {Convert.ToBase64String(result.CrashInput ?? [])}: {result.Crash}");
        Assert.True(result.Executions >= corpus.Count + 2000, $"{target}: only {result.Executions} inputs ran");
        Assert.True(result.Slowest < TimeSpan.FromSeconds(5), $"{target}: one input of {result.SlowestInput.Length} bytes took {result.Slowest.TotalSeconds:F1} s");
    }

    [Fact]
    public void Mutator_SameSeed_SameInputs()
    {
        byte[][] corpus = [[1, 2, 3, 4, 5], "hosts: [a, b]"u8.ToArray()];
        var a = new Mutator(corpus, 7);
        var b = new Mutator(corpus, 7);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(a.Next(), b.Next());
        }
    }
}
