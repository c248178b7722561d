using System.Globalization;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// The faults, in order: a baseline; endpoint kills (SIGKILL, restart on the same port); a config flood (10 writes/s,
/// then convergence to the last write); rogue configuration files; both control planes killed for the outage with the
/// client restarted half-way (it must serve from its cache); the primary control plane killed with the client restarted
/// (fallback replica); mTLS switched on (PERMISSIVE + ISTIO_MUTUAL) and certificate rotation under it; then kills, flood
/// and rogue files at once with mTLS and rotation on.
/// </summary>
internal sealed class ChaosFaults(ChaosRun run, ChaosOptions options, List<FaultResult> results)
{
    private long _phaseStart = ChaosRun.Now();

    private TimeSpan Phase => TimeSpan.FromSeconds(options.PhaseSeconds);

    // How long a restarted client may take to its first successful call; the fault stays on until then, so a call that
    // succeeds proves the cache (or the fallback) served it.
    private static TimeSpan FirstOkTimeout => TimeSpan.FromSeconds(30);

    private TimeSpan Recovery => TimeSpan.FromSeconds(options.RecoverySeconds);

    public async Task RunAllAsync()
    {
        // Warm-up, not measured: JIT, connections to every backend.
        await Task.Delay(TimeSpan.FromSeconds(options.Short ? 2 : 5)).ConfigureAwait(false);
        _phaseStart = ChaosRun.Now();

        await Task.Delay(Phase).ConfigureAwait(false);
        End("baseline", "no fault");

        var kills = await KillEndpointsAsync(Phase).ConfigureAwait(false);
        await Task.Delay(Recovery).ConfigureAwait(false);
        End("endpoint kills", $"{kills} SIGKILLs, each endpoint restarted 1 s later; retries: 3 on UNAVAILABLE");

        var (writes, lastWrite) = await FloodAsync(Phase).ConfigureAwait(false);
        var convergence = await WaitForConvergenceAsync(lastWrite).ConfigureAwait(false);
        run.WriteConfig(ChaosYaml.VirtualServiceFile, ChaosYaml.VirtualService(null));
        await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        End("config flood", $"{writes} VirtualService writes at 10/s; last write (100 % v2) served everywhere after {Describe(convergence)}", convergence: convergence);

        foreach (var (file, yaml) in ChaosYaml.Rogue)
        {
            run.WriteConfig(file, yaml);
        }

        await Task.Delay(Phase).ConfigureAwait(false);
        var up = run.ControlPlanesUp;
        RemoveRogue();
        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        End("rogue config", $"{ChaosYaml.Rogue.Length} invalid files (malformed, recursive alias, invalid VirtualService); control planes {(up ? "stayed up" : "DIED")}");

        // Both replicas down: nothing to fall back to. The running client keeps its configuration; a client started
        // half-way through has only its cache.
        run.KillControlPlane(0);
        run.KillControlPlane(1);
        var half = TimeSpan.FromSeconds(options.OutageSeconds / 2.0);
        await Task.Delay(half).ConfigureAwait(false);
        End("control planes down", $"both replicas SIGKILLed; first half of the {options.OutageSeconds} s outage, the running client");
        var firstOk = await run.RestartClientAsync(FirstOkTimeout).ConfigureAwait(false);
        var left = half - TimeSpan.FromMilliseconds(ChaosRun.Now() - _phaseStart);
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left).ConfigureAwait(false);
        }

        await Task.WhenAll(run.StartControlPlaneAsync(0), run.StartControlPlaneAsync(1)).ConfigureAwait(false);
        await Task.Delay(Recovery).ConfigureAwait(false);
        End("client restart, control planes down", $"client stopped and started again in the second half of the outage: first call OK {Describe(firstOk)} after the new process started (from its cache); then both replicas restarted", clientFirstOk: firstOk);

        run.KillControlPlane(0);
        await Task.Delay(Phase).ConfigureAwait(false);
        End("primary control plane down", "primary replica SIGKILLed; the running client (it holds every resource, so it stays on the primary and retries)");
        firstOk = await run.RestartClientAsync(FirstOkTimeout).ConfigureAwait(false);
        await Task.Delay(Phase).ConfigureAwait(false);
        await run.StartControlPlaneAsync(0).ConfigureAwait(false);
        await Task.Delay(Recovery).ConfigureAwait(false);
        End("client restart, primary down", $"client started again while the primary is down: first call OK {Describe(firstOk)} after the new process started (cache, then the fallback replica); then the primary restarted", clientFirstOk: firstOk);

        run.WriteConfig(ChaosYaml.PeerAuthenticationFile, ChaosYaml.PeerAuthenticationPermissive);
        await Task.Delay(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        run.WriteConfig(ChaosYaml.DestinationRuleFile, ChaosYaml.DestinationRule(mutualTls: true));
        await Task.Delay(Recovery).ConfigureAwait(false);
        End("mTLS on", "PeerAuthentication PERMISSIVE, then DestinationRule ISTIO_MUTUAL: every call mTLS with CA certificates");

        var rotation = TimeSpan.FromSeconds(Math.Max(options.PhaseSeconds, 3 * options.CertificateSeconds));
        await Task.Delay(rotation).ConfigureAwait(false);
        End("certificate rotation", $"{options.CertificateSeconds} s certificates, renewed at half-life by client and servers, for {rotation.TotalSeconds:F0} s");

        var combinedKills = KillEndpointsAsync(Phase);
        var combinedFlood = FloodAsync(Phase);
        await Task.Delay(Phase / 2).ConfigureAwait(false);
        foreach (var (file, yaml) in ChaosYaml.Rogue)
        {
            run.WriteConfig(file, yaml);
        }

        // The rogue files hold the configuration at its last good state until they go: remove them before the last write.
        await Task.Delay(Phase / 4).ConfigureAwait(false);
        RemoveRogue();
        kills = await combinedKills.ConfigureAwait(false);
        (writes, lastWrite) = await combinedFlood.ConfigureAwait(false);
        convergence = await WaitForConvergenceAsync(lastWrite).ConfigureAwait(false);
        End("combined", $"mTLS + rotation, {kills} endpoint kills, {writes} config writes, rogue files for {options.PhaseSeconds / 4.0:F1} s; last write served everywhere after {Describe(convergence)}", convergence: convergence);
    }

    private void RemoveRogue()
    {
        foreach (var (file, _) in ChaosYaml.Rogue)
        {
            run.DeleteConfig(file);
        }
    }

    /// <summary>SIGKILLs the backends in turn for <paramref name="duration"/>, each restarted 1 s after its kill, one down at a time.</summary>
    private async Task<int> KillEndpointsAsync(TimeSpan duration)
    {
        var until = DateTime.UtcNow + duration;
        var kills = 0;
        while (DateTime.UtcNow < until)
        {
            var next = DateTime.UtcNow.AddMilliseconds(options.KillEveryMilliseconds);
            var index = kills % options.Backends;
            run.KillBackend(index);
            kills++;
            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            await run.StartBackendAsync(index).ConfigureAwait(false);
            var wait = next - DateTime.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait).ConfigureAwait(false);
            }
        }

        return kills;
    }

    /// <summary>Rewrites the VirtualService 10 times a second with weights between 10 and 90 % for v1, then once with 0 % (all v2).</summary>
    private async Task<(int Writes, long LastWrite)> FloodAsync(TimeSpan duration)
    {
        var until = DateTime.UtcNow + duration;
        var writes = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (DateTime.UtcNow < until && await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            run.WriteConfig(ChaosYaml.VirtualServiceFile, ChaosYaml.VirtualService(10 + Random.Shared.Next(81)));
            writes++;
        }

        run.WriteConfig(ChaosYaml.VirtualServiceFile, ChaosYaml.VirtualService(0));
        return (writes + 1, ChaosRun.Now());
    }

    /// <summary>
    /// Waits (at least the recovery time, at most 30 s) until every call has gone to v2 for 1 s since the last write;
    /// returns <see cref="Convergence"/>.
    /// </summary>
    private async Task<long?> WaitForConvergenceAsync(long lastWrite)
    {
        await Task.Delay(Recovery).ConfigureAwait(false);
        var until = ChaosRun.Now() + 30_000;
        while (true)
        {
            var since = Convergence(lastWrite);
            if ((since is { } ms && ChaosRun.Now() - (lastWrite + ms) >= 1000) || ChaosRun.Now() > until)
            {
                return since;
            }

            await Task.Delay(250).ConfigureAwait(false);
        }
    }

    /// <summary>Milliseconds from <paramref name="lastWrite"/> to the first report from which on every call went to v2; null if that never happened.</summary>
    private long? Convergence(long lastWrite)
    {
        var ticks = run.Ticks(lastWrite, ChaosRun.Now());
        long? since = null;
        foreach (var tick in ticks)
        {
            if (tick.V1 > 0)
            {
                since = null;
            }
            else if (tick.V2 > 0)
            {
                since ??= tick.UnixMs;
            }
        }

        return since - lastWrite;
    }

    private void End(string fault, string notes, long? clientFirstOk = null, long? convergence = null)
    {
        var end = ChaosRun.Now();
        var ticks = run.Ticks(_phaseStart, end);
        long attempted = 0, failed = 0, first = long.MaxValue, last = 0;
        var error = "-";
        foreach (var tick in ticks)
        {
            attempted += tick.Completed;
            failed += tick.Failed;
            if (tick.Failed > 0)
            {
                if (tick.FirstFailMs < first)
                {
                    first = tick.FirstFailMs;
                    error = tick.Error;
                }

                last = Math.Max(last, tick.LastFailMs);
            }
        }

        var result = new FaultResult(fault, (end - _phaseStart) / 1000.0, attempted, failed, failed == 0 ? 0 : last - first, error, notes)
        {
            ClientFirstOkMs = clientFirstOk,
            ConvergenceMs = convergence,
        };
        results.Add(result);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"chaos: {DateTimeOffset.FromUnixTimeMilliseconds(_phaseStart):HH:mm:ss.fff}–{DateTimeOffset.FromUnixTimeMilliseconds(end):HH:mm:ss.fff} {fault}: {attempted} calls, {failed} failed ({result.FailedPercent:F3} %) in {result.Seconds:F0} s; {notes}"));
        _phaseStart = end;
    }

    private static string Describe(long? milliseconds) =>
        milliseconds is { } ms ? string.Create(CultureInfo.InvariantCulture, $"{ms} ms") : "never";
}
