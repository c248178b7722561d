namespace Mesh.LoadHarness;

/// <summary>
/// One or more control-plane replicas (<see cref="ControlPlaneProcess"/>) serving the same configuration directory, as
/// a highly available set behind one Service would: client <c>i</c> connects to replica <c>i % count</c>. Every figure
/// is the sum over the replicas (CPU, RSS, heap, allocations), so per-replica cost is the figure divided by the count.
/// </summary>
internal sealed class ControlPlaneGroup : IDisposable
{
    private readonly ControlPlaneProcess[] _replicas;

    public ControlPlaneGroup(int count, IReadOnlyList<string> serveArguments)
    {
        _replicas = new ControlPlaneProcess[Math.Max(1, count)];
        for (var i = 0; i < _replicas.Length; i++)
        {
            _replicas[i] = ControlPlaneProcess.Start(serveArguments);
        }
    }

    public int Count => _replicas.Length;

    /// <summary>The xDS address client <paramref name="client"/> connects to.</summary>
    public Uri XdsAddressFor(int client) => _replicas[client % _replicas.Length].XdsAddress;

    public Uri XdsAddress => _replicas[0].XdsAddress;

    public TimeSpan CpuTime => Sum(static r => r.CpuTime);

    public long ResidentBytes => Sum(static r => r.ResidentBytes);

    public long PeakResidentBytes => Sum(static r => r.PeakResidentBytes);

    public long ManagedHeapBytes() => Sum(static r => r.ManagedHeapBytes());

    public long AllocatedBytes() => Sum(static r => r.AllocatedBytes());

    /// <summary>Stops every replica; the error and warning lines they logged, summed.</summary>
    public (int Errors, int Warnings) Stop()
    {
        var (errors, warnings) = (0, 0);
        foreach (var replica in _replicas)
        {
            var (e, w) = replica.Stop();
            errors += e;
            warnings += w;
        }

        return (errors, warnings);
    }

    public void Dispose()
    {
        foreach (var replica in _replicas)
        {
            replica.Dispose();
        }
    }

    private long Sum(Func<ControlPlaneProcess, long> figure)
    {
        var total = 0L;
        foreach (var replica in _replicas)
        {
            total += figure(replica);
        }

        return total;
    }

    private TimeSpan Sum(Func<ControlPlaneProcess, TimeSpan> figure)
    {
        var total = TimeSpan.Zero;
        foreach (var replica in _replicas)
        {
            total += figure(replica);
        }

        return total;
    }
}
