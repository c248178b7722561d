using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Mesh.Testing;
using Xunit.Abstractions;

namespace Mesh.Reliability.Tests.Chaos;

/// <summary>
/// The chaos harness in its short mode (bench/Mesh.LoadHarness <c>chaos --short</c>): two control-plane replicas, four
/// mesh backends and a load client as real processes on loopback, every fault once. Asserts the thresholds that hold
/// on a loaded machine; the full-mode numbers (1,000 rps, 60 s outage) are in docs/reliability.md.
/// </summary>
public sealed class ChaosHarnessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ShortMode_EveryFault_RunningClientsNeverFailOnControlPlaneLoss_RestartedClientServesFromCache()
    {
        var harness = Path.Combine(RepositoryRoot.Path, "bench", "Mesh.LoadHarness", "bin", RepositoryRoot.Configuration, "net10.0", "Mesh.LoadHarness.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { harness, "chaos", "--short" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var text = new StringBuilder();
        var errors = process.StandardError.ReadToEndAsync();
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                text.AppendLine(line);
            }
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the chaos harness did not finish in 6 minutes:\n" + text);
        }

        await reading;
        output.WriteLine(text.ToString());
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}:\n{text}\n{await errors}");
        var json = text.ToString().Split('\n').Single(l => l.StartsWith("chaos-result ", StringComparison.Ordinal))["chaos-result ".Length..];
        var results = JsonSerializer.Deserialize<List<Result>>(json)!.ToDictionary(r => r.Fault);

        Assert.Equal(11, results.Count);
        Assert.All(results.Values, r => Assert.True(r.Attempted > 0, $"{r.Fault}: no calls completed"));
        Assert.Equal(0, results["baseline"].Failed);

        // A running client loses nothing when every control plane dies, or the primary does.
        Assert.Equal(0, results["control planes down"].Failed);
        Assert.Equal(0, results["primary control plane down"].Failed);

        // A client started while both control planes are down serves from its cache (the fault stays on until it has).
        Assert.NotNull(results["client restart, control planes down"].ClientFirstOkMs); // null: the restarted client never served a call while the control planes were down
        Assert.NotNull(results["client restart, primary down"].ClientFirstOkMs); // null: the restarted client never served a call while the primary was down

        // Invalid configuration leaves the control planes up.
        Assert.Contains("stayed up", results["rogue config"].Notes, StringComparison.Ordinal);

        // Floods converge to the last write.
        Assert.NotNull(results["config flood"].ConvergenceMs); // null: the flood's last write was never served everywhere
        Assert.NotNull(results["combined"].ConvergenceMs); // null: the combined run's last write was never served everywhere

        // Endpoint kills with retries: a small share at most (1,000 rps full mode: ≤ 0.1 %, docs/reliability.md).
        Assert.True(results["endpoint kills"].FailedPercent <= 2, $"endpoint kills: {results["endpoint kills"].FailedPercent:F2} % failed");
    }

    private sealed record Result(string Fault, long Attempted, long Failed, double FailedPercent, string Notes, long? ClientFirstOkMs, long? ConvergenceMs);
}
