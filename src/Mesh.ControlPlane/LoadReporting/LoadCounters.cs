namespace Mesh.ControlPlane.LoadReporting;

/// <summary>Request counts of one report, or a sum of reports.</summary>
/// <param name="Issued">Requests issued.</param>
/// <param name="Succeeded">Requests that finished successfully.</param>
/// <param name="Errored">Requests that finished with an error.</param>
/// <param name="Dropped">Requests the client dropped before sending.</param>
internal readonly record struct LoadCounters(ulong Issued, ulong Succeeded, ulong Errored, ulong Dropped)
{
    /// <summary>The sum of two counts.</summary>
    public static LoadCounters operator +(LoadCounters a, LoadCounters b) =>
        new(a.Issued + b.Issued, a.Succeeded + b.Succeeded, a.Errored + b.Errored, a.Dropped + b.Dropped);

    /// <summary>The sum of two counts.</summary>
    public static LoadCounters Add(LoadCounters a, LoadCounters b) => a + b;
}
