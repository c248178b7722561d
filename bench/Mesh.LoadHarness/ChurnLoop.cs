using System.Diagnostics;
using Envoy.Service.Discovery.V3;

namespace Mesh.LoadHarness;

/// <summary>
/// Client churn for <see cref="ControlPlaneScale"/>: every second, <c>perSecond</c> clients drawn in turn from
/// <c>group</c> cancel their ADS stream (as a restarting pod's client does) and open a fresh one on the same connection,
/// subscribing from scratch. Records how long each reconnected client took to sync again.
/// </summary>
internal sealed class ChurnLoop(
    int perSecond,
    int[] group,
    AdsSimClient[] sims,
    Task[] tasks,
    CancellationTokenSource[] cancels,
    AggregatedDiscoveryService.AggregatedDiscoveryServiceClient[] ads,
    CancellationToken runToken)
{
    private readonly List<double> _resyncMs = [];
    private int _next;
    private int _reconnects;

    /// <summary>Streams reopened so far.</summary>
    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>The <paramref name="quantile"/> of the time a reconnected client took to sync again, in ms.</summary>
    public double ResyncP(double quantile)
    {
        lock (_resyncMs)
        {
            if (_resyncMs.Count == 0)
            {
                return double.NaN;
            }

            var sorted = _resyncMs.Order().ToArray();
            return sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * quantile))];
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var pending = new List<Task>();
        for (var second = 1; !cancellationToken.IsCancellationRequested; second++)
        {
            for (var k = 0; k < perSecond; k++)
            {
                pending.Add(ReconnectAsync(group[_next++ % group.Length]));
            }

            var wait = TimeSpan.FromSeconds(second) - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        try
        {
            await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(60), runToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
        }
    }

    private async Task ReconnectAsync(int i)
    {
        await cancels[i].CancelAsync().ConfigureAwait(false);
        try
        {
            await tasks[i].WaitAsync(TimeSpan.FromSeconds(10), runToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or Grpc.Core.RpcException)
        {
        }

        cancels[i].Dispose();
        cancels[i] = CancellationTokenSource.CreateLinkedTokenSource(runToken);
        var sim = new AdsSimClient(i, sims[i].Listeners, sims[i].Delta);
        var start = Stopwatch.GetTimestamp();
        sims[i] = sim;
        tasks[i] = sim.RunAsync(ads[i], cancels[i].Token);
        Interlocked.Increment(ref _reconnects);
        try
        {
            await sim.Synced.Task.WaitAsync(TimeSpan.FromSeconds(60), runToken).ConfigureAwait(false);
            lock (_resyncMs)
            {
                _resyncMs.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or Grpc.Core.RpcException)
        {
        }
    }
}
