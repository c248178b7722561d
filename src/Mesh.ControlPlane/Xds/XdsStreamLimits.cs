namespace Mesh.ControlPlane.Xds;

/// <summary>
/// What one ADS stream may cost the control plane. An xDS client is untrusted until it proves an identity, so every
/// queue and every piece of client-supplied state is bounded; a client that exceeds a bound is disconnected with a
/// warning naming its node id and address. The defaults are far above what a well-behaved client needs.
/// </summary>
public sealed class XdsStreamLimits
{
    /// <summary>
    /// The most requests read from a stream and waiting to be handled: 1,000. A client that keeps sending while it does
    /// not read responses (the stream's responses are blocked by flow control) reaches this (or
    /// <see cref="MaxPendingRequestBytes"/>) and is disconnected.
    /// </summary>
    public int MaxPendingRequests { get; set; } = 1000;

    /// <summary>The most bytes of requests waiting to be handled on one stream: 8 MiB.</summary>
    public int MaxPendingRequestBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// How long one response may wait to be written (the client not reading, so HTTP/2 flow control holds it back)
    /// before the client is disconnected: 30 s. A stuck client thus holds at most one response and
    /// <see cref="MaxPendingRequests"/> requests, for at most this long.
    /// </summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most bytes of responses, over all streams, that may wait for clients that do not read them: 1 GiB. A
    /// response counts once its write has waited a second (or half of <see cref="SendTimeout"/>, when that is shorter);
    /// a stream whose response would take the total over this is disconnected at once instead of waiting out
    /// <see cref="SendTimeout"/>. With it, what clients that never read cost the control plane is bounded in total, not
    /// only per stream: at most this much in responses, plus each stream's request backlog.
    /// </summary>
    public long MaxBlockedResponseBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>The most resource names one client may subscribe to per type: 10,000.</summary>
    public int MaxResourceNamesPerType { get; set; } = 10_000;

    /// <summary>The longest resource name accepted, in characters: 2,048.</summary>
    public int MaxResourceNameLength { get; set; } = 2048;

    /// <summary>
    /// The most server (inbound) listener names, <c>grpc/server?xds.resource.listening_address=…</c>, one client may
    /// subscribe to: 64. Each is built for the client's workload, so made-up names would otherwise cost memory.
    /// </summary>
    public int MaxServerListenerNames { get; set; } = 64;

    /// <summary>The longest node id accepted, in characters: 1,024.</summary>
    public int MaxNodeIdLength { get; set; } = 1024;

    /// <summary>The largest node (id, cluster, metadata, locality…) accepted, serialized: 64 KiB.</summary>
    public int MaxNodeBytes { get; set; } = 64 * 1024;

    /// <summary>The longest NACK error detail kept for /debug/syncz and written to the log, in characters: 1,024.</summary>
    public int MaxNackMessageLength { get; set; } = 1024;

    /// <summary>How many NACKs are logged per <see cref="NackLogWindow"/>, over all clients: 10; the rest are counted.</summary>
    public int NackLogBurst { get; set; } = 10;

    /// <summary>The window of <see cref="NackLogBurst"/>: 10 s.</summary>
    public TimeSpan NackLogWindow { get; set; } = TimeSpan.FromSeconds(10);
}
