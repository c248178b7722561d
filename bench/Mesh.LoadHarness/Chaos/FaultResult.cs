namespace Mesh.LoadHarness.Chaos;

/// <summary>What one phase of the chaos run measured: calls completed in it, failed, and the span from the first to the last failure.</summary>
internal sealed record FaultResult(string Fault, double Seconds, long Attempted, long Failed, long FailureWindowMs, string FirstError, string Notes)
{
    public double FailedPercent => Attempted == 0 ? 0 : 100.0 * Failed / Attempted;

    /// <summary>Milliseconds from a restarted client's start to its first successful call, when the phase restarted one.</summary>
    public long? ClientFirstOkMs { get; init; }

    /// <summary>Milliseconds from the flood's last write until every call went where that write says, when the phase flooded config; -1 if never.</summary>
    public long? ConvergenceMs { get; init; }
}
