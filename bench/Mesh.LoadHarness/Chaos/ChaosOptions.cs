namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// The knobs of a chaos run. Full mode (the defaults) is the acceptance run: 1,000 rps, 60 s per fault and a 60 s
/// control-plane outage, 20 s certificates. <c>--short</c> is the bounded mode the test suite runs (about a minute).
/// </summary>
internal sealed record ChaosOptions
{
    public int Rps { get; init; } = 1000;

    /// <summary>How long each fault phase injects its fault (the outage has its own length).</summary>
    public int PhaseSeconds { get; init; } = 60;

    public int OutageSeconds { get; init; } = 60;

    public int Backends { get; init; } = 4;

    public int CertificateSeconds { get; init; } = 20;

    /// <summary>How often an endpoint is SIGKILLed while endpoints are being killed; it is restarted 1 s later.</summary>
    public int KillEveryMilliseconds { get; init; } = 5000;

    /// <summary>Seconds after a fault is lifted that still count for its phase (recovery is part of the fault).</summary>
    public int RecoverySeconds { get; init; } = 5;

    public bool Short { get; init; }

    public static ChaosOptions Parse(string[] args)
    {
        var shortMode = args.Contains("--short");
        var defaults = shortMode
            ? new ChaosOptions { Rps = 200, PhaseSeconds = 3, OutageSeconds = 6, Backends = 4, CertificateSeconds = 3, KillEveryMilliseconds = 1500, RecoverySeconds = 2, Short = true }
            : new ChaosOptions();
        return defaults with
        {
            Rps = Program.Option(args, "--rps", defaults.Rps),
            PhaseSeconds = Program.Option(args, "--phase-seconds", defaults.PhaseSeconds),
            OutageSeconds = Program.Option(args, "--outage-seconds", defaults.OutageSeconds),
            Backends = Math.Max(2, Program.Option(args, "--backends", defaults.Backends)),
            CertificateSeconds = Math.Max(2, Program.Option(args, "--cert-seconds", defaults.CertificateSeconds)),
            KillEveryMilliseconds = Program.Option(args, "--kill-every-ms", defaults.KillEveryMilliseconds),
            RecoverySeconds = Program.Option(args, "--recovery-seconds", defaults.RecoverySeconds),
        };
    }
}
