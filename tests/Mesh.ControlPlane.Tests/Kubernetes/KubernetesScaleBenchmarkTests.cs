using System.Diagnostics;
using System.Reflection;

namespace Mesh.ControlPlane.Tests.Kubernetes;

/// <summary>
/// Runs the load harness's <c>k8s-scale</c> mode (issue 13's benchmark) in a small size end to end, so that the benchmark
/// keeps working: fake API server, control plane process, simulated clients, churn, and the result table.
/// </summary>
public sealed class KubernetesScaleBenchmarkTests
{
    [Fact]
    public async Task K8sScale_ShortRun_EveryChangeReachesEverySubscriberAndPrintsTheTable()
    {
        var harness = typeof(KubernetesScaleBenchmarkTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "LoadHarness").Value!;
        Assert.True(File.Exists(harness), $"the load harness is built at {harness}");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])[harness, "k8s-scale", "--services", "20", "--endpoints", "5", "--clients", "20", "--subscribe", "4", "--rate", "40", "--seconds", "2"])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"k8s-scale did not finish in 100 s; output so far: {await output}");
        }

        var text = await output;
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{text}\n{await errors}");
        Assert.Contains("change -> every subscriber ACKed: p50", text, StringComparison.Ordinal);
        Assert.Contains("80 in ", text, StringComparison.Ordinal); // 40 changes/s for 2 s, all written
        Assert.Matches(@"changes not seen by every subscriber in 30 s\s+0 ", text);
        Assert.Matches(@"control plane RSS: idle / with clients / peak\s+[0-9.]+ / [0-9.]+ / [0-9.]+ MB", text);
    }
}
