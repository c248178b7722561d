using Grpc.Core;
using Grpc.Net.Client.Balancer;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// One backend address shared by every cluster that lists it: its subchannel (gRPC path), its connectivity, and the
/// number of calls in flight on it. It is its own call tracker, so counting calls allocates nothing per call.
/// </summary>
internal sealed class EndpointState : ISubchannelCallTracker
{
    private int _inFlight;

    public EndpointState(string host, int port, Subchannel? subchannel)
    {
        Host = host;
        Port = port;
        Subchannel = subchannel;
        EndPoint = new System.Net.DnsEndPoint(host, port);
    }

    public string Host { get; }
    public int Port { get; }
    /// <summary>The gRPC subchannel, on the gRPC path; null on the HttpClient path.</summary>
    public Subchannel? Subchannel { get; }

    /// <summary>The address as an endpoint.</summary>
    public System.Net.DnsEndPoint EndPoint { get; }
    public ConnectivityState State { get; set; } = ConnectivityState.Idle;
    public int References { get; set; }
    public IDisposable? StateRegistration { get; set; }

    /// <summary>
    /// When the endpoint joined the pool (a <see cref="TimeProvider"/> timestamp; 0 until then): its first READY, and
    /// again on READY after a failure; created, on the HttpClient path. Slow start ramps it up from here.
    /// </summary>
    public long ActiveSince { get; set; }

    /// <summary>Calls started on this endpoint and not yet complete.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public void Start() => Interlocked.Increment(ref _inFlight);

    public void Complete(CompletionContext context) => Finish();

    /// <summary>Marks one call as complete.</summary>
    public void Finish() => Interlocked.Decrement(ref _inFlight);

    public override string ToString() => $"{Host}:{Port}";
}
