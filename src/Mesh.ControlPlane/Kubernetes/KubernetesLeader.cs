using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Mesh.ControlPlane.Model;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>
/// Leader election among the control plane replicas on a <c>coordination.k8s.io/v1</c> Lease (KubernetesClient's
/// <see cref="LeaderElector"/>), and the singleton work the leader does: writing status and Events back to the cluster.
/// Every replica serves xDS from its own informer caches whether it leads or not; only the writes are the leader's.
/// </summary>
public sealed partial class KubernetesLeader : IAsyncDisposable
{
    private readonly KubernetesConfigSource _source;
    private readonly KubernetesSourceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly StatusWriter _writer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _running = [];
    private readonly List<ILeaderWork> _work = [];
    private volatile bool _leading;

    /// <summary>Creates the elector for <paramref name="source"/>'s cluster.</summary>
    public KubernetesLeader(KubernetesConfigSource source, MeshSnapshotProvider provider, KubernetesSourceOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _source = source;
        _options = options;
        _time = time;
        _logger = loggers.CreateLogger<KubernetesLeader>();
        source.Leader = this;
        _writer = new StatusWriter(source, provider, options.Identity, time, loggers.CreateLogger("Mesh.ControlPlane.Kubernetes.StatusWriter"));
    }

    /// <summary>This replica's identity in the Lease.</summary>
    public string Identity => _options.Identity;

    /// <summary>Whether this replica holds the Lease now.</summary>
    public bool IsLeader => _leading;

    /// <summary>How many status writes and Events this replica made.</summary>
    public int StatusWrites => _writer.Writes;

    /// <summary>Adds singleton work the leader does after each status round.</summary>
    internal void AddWork(ILeaderWork work) => _work.Add(work);

    /// <summary>Starts competing for the Lease, and the status loop.</summary>
    public void Start()
    {
        var elector = new LeaderElector(new LeaderElectionConfig(new LeaseLock(_source.Api, _options.LeaseNamespace, _options.LeaseName, _options.Identity))
        {
            LeaseDuration = _options.LeaseDuration,
            RenewDeadline = _options.RenewDeadline,
            RetryPeriod = _options.RetryPeriod,
        });
        elector.OnStartedLeading += () =>
        {
            _leading = true;
            Log.Leading(_logger, _options.Identity, _options.LeaseNamespace, _options.LeaseName);
        };
        elector.OnStoppedLeading += () =>
        {
            if (_leading)
            {
                Log.StoppedLeading(_logger, _options.Identity);
            }

            _leading = false;
        };
        _running.Add(Task.Run(async () =>
        {
            try
            {
                // The elector gives up when the API server cannot be reached (its Lease read throws): keep competing,
                // once per retry period, until the replica stops.
                while (!_stopping.IsCancellationRequested)
                {
                    try
                    {
                        await elector.RunAndTryToHoldLeadershipForeverAsync(_stopping.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        _leading = false;
                        Log.ElectionFailed(_logger, _options.Identity, ex.Message);
                        await Task.Delay(_options.RetryPeriod, _time, _stopping.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                _leading = false;
                elector.Dispose();
            }
        }));
        _running.Add(Task.Run(StatusLoopAsync));
    }

    private async Task StatusLoopAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.StatusInterval, _time, token).ConfigureAwait(false);
                if (_leading)
                {
                    await _writer.ReconcileAsync(token).ConfigureAwait(false);
                    foreach (var work in _work)
                    {
                        await work.RunAsync(token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.Text.Json.JsonException or HttpRequestException)
            {
                Log.StatusRoundFailed(_logger, ex);
            }
        }
    }

    /// <summary>Stops competing (the Lease then expires after its duration) and stops writing.</summary>
    public async Task StopAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_running).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "{Identity} leads (Lease {Namespace}/{Name}): it writes status back to the cluster.")]
        public static partial void Leading(ILogger logger, string identity, string @namespace, string name);

        [LoggerMessage(2, LogLevel.Warning, "{Identity} no longer leads.")]
        public static partial void StoppedLeading(ILogger logger, string identity);

        [LoggerMessage(3, LogLevel.Warning, "A status round failed; trying again.")]
        public static partial void StatusRoundFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Warning, "{Identity} cannot reach the API server for leader election ({Reason}); trying again.")]
        public static partial void ElectionFailed(ILogger logger, string identity, string reason);
    }
}
