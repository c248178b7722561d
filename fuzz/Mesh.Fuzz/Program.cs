using System.Globalization;
using Mesh.Fuzz;
using SharpFuzz;

const string Usage = """
    Usage: Mesh.Fuzz MODE ...
      list                                        the targets
      seeds DIR [FILE.yaml ...]                   writes the seed corpus to DIR/TARGET/ (YAML files join the yaml seeds)
      afl TARGET                                  one AFL++ run through SharpFuzz (afl-fuzz starts this; see fuzz/run.sh)
      mutate TARGET [--seconds 10] [--seed 1] [--corpus DIR] [--crashes DIR]
                                                  the built-in mutation engine, in-process, for a bounded time
      repro TARGET FILE                           runs one input (a crash AFL++ or the mutation engine saved)
    """;

switch (args)
{
    case ["list"]:
        foreach (var (name, (description, _)) in FuzzTargets.All)
        {
            Console.WriteLine($"{name,-10} {description}");
        }

        return 0;
    case ["seeds", var directory, .. var yaml]:
        SeedCorpus.Write(directory, SeedCorpus.Generate(yaml));
        return 0;
    case ["afl", var target]:
        // Persistent mode: one process runs many inputs; an escaping exception is reported to AFL++ as a crash.
        // Nothing instrumented may run before Fuzzer.Run has set up AFL's shared memory, so the target (whose type
        // initializer calls into Mesh.Server) is looked up inside the callback.
        Fuzzer.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            FuzzTargets.All[target].Run(buffer.ToArray());
        });
        return 0;
    case ["mutate", var target, .. var options] when FuzzTargets.All.ContainsKey(target):
        return Mutate(target, options);
    case ["repro", var target, var file] when FuzzTargets.All.TryGetValue(target, out var entry):
        entry.Run(File.ReadAllBytes(file));
        Console.WriteLine($"{target}: {file}: no crash");
        return 0;
    default:
        Console.Error.WriteLine(Usage);
        return 2;
}

static int Mutate(string target, string[] options)
{
    string? Option(string name) => Array.IndexOf(options, name) is var i and >= 0 && i + 1 < options.Length ? options[i + 1] : null;
    var seconds = double.Parse(Option("--seconds") ?? "10", CultureInfo.InvariantCulture);
    var seed = int.Parse(Option("--seed") ?? "1", CultureInfo.InvariantCulture);
    var corpus = Option("--corpus") is { } dir && Directory.Exists(Path.Combine(dir, target))
        ? Directory.GetFiles(Path.Combine(dir, target)).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList()
        : SeedCorpus.Generate([])[target].Select(s => s.Data).ToList();
    var result = MutationRun.Run(target, corpus, TimeSpan.FromSeconds(seconds), seed);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{target}: {result.Executions} inputs in {result.Elapsed.TotalSeconds:F1} s ({corpus.Count} seeds, seed {seed}); slowest input {result.Slowest.TotalMilliseconds:F0} ms ({result.SlowestInput.Length} bytes)"));
    if (result.Crash is null)
    {
        return 0;
    }

    var crashes = Option("--crashes") ?? Path.Combine(Path.GetTempPath(), "mesh-fuzz-crashes");
    Directory.CreateDirectory(crashes);
    var path = Path.Combine(crashes, $"{target}-crash-{seed}-{result.Executions}");
    File.WriteAllBytes(path, result.CrashInput!);
    Console.WriteLine($"{target}: CRASH after {result.Executions} inputs, input saved to {path}:\n{result.Crash}");
    return 1;
}
