using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// <c>chaos [--short] [--rps N] [--phase-seconds S] [--outage-seconds S] [--backends N] [--cert-seconds S]
/// [--kill-every-ms MS] [--recovery-seconds S] [--keep]</c>: steady load from a mesh client process while faults are
/// injected one at a time and then combined. Phases follow each other without gaps, so every call counts in exactly one;
/// a phase includes the recovery after its fault is lifted. Prints a table (calls attempted, failed, failure window per
/// fault) and a last line <c>chaos-result JSON</c> for tests.
/// </summary>
internal static class ChaosDriver
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static async Task<int> RunAsync(string[] args)
    {
        var options = ChaosOptions.Parse(args);
        var total = Stopwatch.StartNew();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"chaos: {(options.Short ? "short" : "full")} mode, {options.Rps} rps, {options.PhaseSeconds} s per fault, {options.OutageSeconds} s control-plane outage, {options.Backends} backends, {options.CertificateSeconds} s certificates ({Environment.ProcessorCount} cores, {DateTime.UtcNow:u})"));
        var run = await ChaosRun.StartAsync(options).ConfigureAwait(false);
        Console.WriteLine($"chaos: 2 control planes, {options.Backends} backends and the client are up; logs in {run.Logs}");
        var results = new List<FaultResult>();
        var faults = new ChaosFaults(run, options, results);
        try
        {
            await faults.RunAllAsync().ConfigureAwait(false);
        }
        finally
        {
            await run.DisposeAsync().ConfigureAwait(false);
            if (!args.Contains("--keep"))
            {
                run.DeleteDirectory();
            }
        }

        Print(results, options);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chaos: done in {total.Elapsed.TotalSeconds:F0} s"));
        Console.WriteLine("chaos-result " + JsonSerializer.Serialize(results, Json));
        return 0;
    }

    private static void Print(List<FaultResult> results, ChaosOptions options)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| fault | s | calls | failed | failed % | failure window | notes |"));
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var r in results)
        {
            var window = r.Failed == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{r.FailureWindowMs} ms");
            var notes = r.Failed == 0 ? r.Notes : $"{r.Notes}; first error: {r.FirstError}";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Fault} | {r.Seconds:F0} | {r.Attempted} | {r.Failed} | {r.FailedPercent:F3} | {window} | {notes} |"));
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"calls: completed in the phase (the client's 5 s deadline included); {options.Rps} rps offered"));
    }
}
