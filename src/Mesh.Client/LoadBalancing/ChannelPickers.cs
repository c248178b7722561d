namespace Mesh.Client.LoadBalancing;

/// <summary>
/// The latest <see cref="MeshPicker"/> of one channel, shared by its balancer (which publishes) and its call handler
/// (which picks again for retry attempts). Created by the resolver factory for each channel and handed to the balancer
/// with the configuration.
/// </summary>
internal sealed class ChannelPickers
{
    private readonly Lock _lock = new();
    private MeshPicker? _current;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The client telemetry of the channel's services, or null when telemetry is off.</summary>
    public Telemetry.ClientTelemetry? Telemetry { get; init; }

    /// <summary>The channel's xDS target (<c>host:port</c>), the authority its calls are counted under.</summary>
    public string? Target
    {
        get => _target;
        init
        {
            _target = value;
            GrpcTarget = "xds:///" + value;
        }
    }

    /// <summary>The channel's target as gRPC's A66 metrics label it (<c>xds:///host:port</c>), built once.</summary>
    public string GrpcTarget { get; private init; } = "xds:///";

    private readonly string? _target;

    /// <summary>
    /// A call whose pick failed (no route, no healthy endpoint, a circuit-breaker drop): it never reaches the call
    /// handler, so it is counted here, once, as istio-proxy counts a local reply (UNAVAILABLE, response code 0).
    /// </summary>
    public void RecordPickFailure(HttpRequestMessage request, Telemetry.ResponseFlags flag)
    {
        if (Telemetry is not { Observing: true } telemetry)
        {
            return;
        }

        var call = new Telemetry.ClientCallTelemetry(telemetry, Target, Mesh.Client.Telemetry.IstioLabels.Grpc) { Method = request.RequestUri?.AbsolutePath, Target = GrpcTarget };
        call.AddFlag(flag);
        call.End(grpcStatus: 14, httpStatus: null);
    }

    /// <summary>The picker in force, or null while the channel has no usable configuration.</summary>
    public MeshPicker? Current => Volatile.Read(ref _current);

    /// <summary>Publishes a new picker (or none) and wakes attempts waiting for one.</summary>
    public void Publish(MeshPicker? picker)
    {
        TaskCompletionSource fired;
        lock (_lock)
        {
            Volatile.Write(ref _current, picker);
            fired = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        fired.TrySetResult();
    }

    /// <summary>Completes when the next picker is published (or <paramref name="cancellationToken"/> fires).</summary>
    public Task WaitForChangeAsync(CancellationToken cancellationToken)
    {
        Task changed;
        lock (_lock)
        {
            changed = _changed.Task;
        }

        return changed.WaitAsync(cancellationToken);
    }
}
