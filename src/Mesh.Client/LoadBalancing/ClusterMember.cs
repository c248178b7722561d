using Grpc.Net.Client.Balancer;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// Requests in flight to one cluster, with its circuit breaker limit (gRFC A32: max_requests, 1024 by default).
/// A slot is reserved when a call is picked and released when the call completes.
/// </summary>
internal sealed class ClusterCounter(uint maxRequests)
{
    private int _inFlight;
    private uint _maxRequests = maxRequests;

    /// <summary>The limit; configuration updates change it in place, so calls in flight stay counted.</summary>
    public uint MaxRequests
    {
        get => Volatile.Read(ref _maxRequests);
        set => Volatile.Write(ref _maxRequests, value);
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public bool TryAcquire()
    {
        if (Interlocked.Increment(ref _inFlight) > MaxRequests)
        {
            Interlocked.Decrement(ref _inFlight);
            return false;
        }

        return true;
    }

    public void Release() => Interlocked.Decrement(ref _inFlight);
}

/// <summary>
/// An endpoint as a member of one cluster: the shared <see cref="EndpointState"/> plus the cluster's counter. It is
/// the call tracker handed to Grpc.Net.Client, so counting allocates nothing per call.
/// </summary>
internal sealed class ClusterMember(EndpointState endpoint, ClusterCounter counter, OutlierDetection.OutlierDetector<EndpointState>? detector = null, Transport.ClusterTls? tls = null) : ISubchannelCallTracker
{
    /// <summary>The TLS connections to this endpoint use for this cluster, or null for plaintext.</summary>
    public Transport.ClusterTls? Tls { get; } = tls;

    public EndpointState Endpoint { get; } = endpoint;

    public ClusterCounter Counter { get; } = counter;

    /// <summary>The cluster's name.</summary>
    public string Cluster { get; init; } = string.Empty;

    /// <summary>The load of this endpoint's locality when the cluster reports load (gRFC A27), else null.</summary>
    public LoadReporting.LocalityLoad? Load { get; init; }

    /// <summary>Whether the cluster has outlier detection, so calls must report their outcome.</summary>
    public bool ReportsOutcome => detector is not null;

    /// <summary>Reports a call's outcome to the cluster's outlier detection, if it has any.</summary>
    public void RecordOutcome(bool success) => detector?.RecordResult(Endpoint, success);

    /// <summary>Whether outlier detection has ejected this endpoint from its cluster.</summary>
    public bool IsEjected => detector?.IsEjected(Endpoint) == true;

    public void Start() => Endpoint.Start();

    public void Complete(CompletionContext context) => Finish();

    /// <summary>Ends a call that was picked: the endpoint's count and the cluster's slot.</summary>
    public void Finish()
    {
        Endpoint.Finish();
        Counter.Release();
    }

    public override string ToString() => Endpoint.ToString();
}
