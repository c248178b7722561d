using System.Globalization;
using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Google.Protobuf;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Xds;

/// <summary>What one client has been sent and has acknowledged for one resource type.</summary>
/// <param name="TypeUrl">The resource type.</param>
/// <param name="SentVersion">The version of the last response sent.</param>
/// <param name="SentNonce">The nonce of the last response sent.</param>
/// <param name="AckedVersion">The last version the client acknowledged.</param>
/// <param name="LastNack">The last rejection, if any.</param>
/// <param name="Subscribed">The names the client subscribed to; ["*"] for a wildcard subscription.</param>
/// <param name="Resources">The names and versions of the resources the client was sent and still holds.</param>
public sealed record XdsTypeStatus(
    string TypeUrl,
    string? SentVersion,
    string? SentNonce,
    string? AckedVersion,
    XdsNack? LastNack,
    IReadOnlyList<string> Subscribed,
    IReadOnlyDictionary<string, string> Resources);

/// <summary>A rejection (NACK) by a client.</summary>
/// <param name="Nonce">The nonce of the rejected response.</param>
/// <param name="Version">The version the client stays on.</param>
/// <param name="Message">The client's error detail.</param>
/// <param name="At">When it came.</param>
public sealed record XdsNack(string Nonce, string Version, string Message, DateTimeOffset At);

/// <summary>
/// One ADS stream from one client. The stream's requests and the cache's change notifications are handled one
/// at a time on a single loop, so the per-type state needs no locking against itself; the lock only guards it
/// against status readers (/debug).
/// </summary>
/// <remarks>
/// Everything a client can make the control plane hold is bounded by <see cref="XdsStreamLimits"/>: requests waiting
/// behind a blocked write, the time one write may block, subscribed names and their length, the node. A client over
/// a bound is disconnected (its HTTP/2 stream reset) with a warning naming it. A client that goes away (cancel,
/// reset, connection lost) ends the stream normally, logged at information without a stack trace.
/// </remarks>
public abstract partial class XdsConnection
{
    /// <summary>The order in which types are pushed after a change, so a client never sees a reference to a
    /// resource it cannot have yet: clusters, then their endpoints, then listeners, then their routes.</summary>
    protected static readonly string[] PushOrder =
    [
        XdsTypeUrls.Cluster, XdsTypeUrls.ClusterLoadAssignment, XdsTypeUrls.Listener, XdsTypeUrls.RouteConfiguration,
    ];

    /// <summary>The control plane's identifier, sent in every response (shared: messages are only read once built).</summary>
    protected static readonly Envoy.Config.Core.V3.ControlPlane ControlPlaneIdentity = new() { Identifier = "mesh-controlplane" };

    private static long s_nextId;
    private readonly Channel<object> _events = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private int _changePending;
    private long _nonce;
    private int _pendingRequests;
    private long _pendingBytes;
    private int _disconnected;
    private string? _endReason;
    private bool _identityRefusalLogged;
    private string? _claimedNodeId;

    /// <summary>Creates a connection.</summary>
    protected XdsConnection(XdsResourceCache cache, TimeProvider time, ILogger logger, string peer)
    {
        Cache = cache;
        Time = time;
        Logger = logger;
        Peer = peer;
        ConnectedAt = time.GetUtcNow();
    }

    /// <summary>A process-unique id.</summary>
    public long Id { get; } = Interlocked.Increment(ref s_nextId);

    /// <summary>The client's node, from its first request.</summary>
    public Node? Node { get; protected set; }

    /// <summary>The namespace short names in the client's requests are relative to.</summary>
    public string Namespace { get; protected set; } = "default";

    /// <summary>The client's workload (namespace and labels) as its node describes it.</summary>
    public Translation.ClientWorkload Workload { get; protected set; } = Translation.ClientWorkload.Default;

    /// <summary>The remote address.</summary>
    public string Peer { get; }

    /// <summary>"sotw" or "delta".</summary>
    public abstract string Protocol { get; }

    /// <summary>When the stream opened.</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>The per-type status, for /debug/syncz.</summary>
    public abstract IReadOnlyList<XdsTypeStatus> Status { get; }

    /// <summary>The resource cache.</summary>
    protected XdsResourceCache Cache { get; }

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>The logger.</summary>
    protected ILogger Logger { get; }

    /// <summary>Guards state read by status readers.</summary>
    protected Lock StateLock { get; } = new();

    /// <summary>The identity the client proved on the TLS port (mesh client certificate or join token), or null.</summary>
    public SpiffeId? AuthenticatedIdentity { get; init; }

    /// <summary>
    /// Development mode: serve identity-scoped resources (inbound listeners) for the workload the node metadata claims
    /// without proof. Off unless the control plane runs with <c>--insecure-identity-from-metadata</c>.
    /// </summary>
    public bool TrustMetadataIdentity { get; init; }

    /// <summary>Resets the client's stream (set by the service); used to disconnect a client over a limit.</summary>
    public Action? Abort { get; init; }

    /// <summary>The bounds of this stream.</summary>
    protected XdsStreamLimits Limits => Cache.Limits;

    internal void NotifyResourcesChanged()
    {
        if (Interlocked.Exchange(ref _changePending, 1) == 0)
        {
            _events.Writer.TryWrite(ChangeMarker.Instance);
        }
    }

    /// <summary>Runs the stream until the client goes away: requests from <paramref name="requests"/>, pushes on change.</summary>
    protected async Task RunAsync<TRequest>(IAsyncEnumerable<TRequest> requests, CancellationToken cancellationToken)
        where TRequest : class, IMessage
    {
        Cache.Register(this);
        using var stopPump = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = PumpAsync(requests, stopPump.Token);
        try
        {
            await foreach (var item in _events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (item is ChangeMarker)
                {
                    Volatile.Write(ref _changePending, 0);
                    if (Node is not null)
                    {
                        await PushChangesAsync(Cache.Current.ForClient(Node, Workload)).ConfigureAwait(false);
                    }
                }
                else
                {
                    var request = (TRequest)item;
                    Interlocked.Decrement(ref _pendingRequests);
                    Interlocked.Add(ref _pendingBytes, -request.CalculateSize());
                    await HandleRequestAsync(request).ConfigureAwait(false);
                }
            }

            await pump.ConfigureAwait(false);
        }
        catch (XdsStreamLimitException ex)
        {
            Disconnect(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException
            && (Volatile.Read(ref _disconnected) != 0 || cancellationToken.IsCancellationRequested || ex is IOException))
        {
            // The stream is gone (the client went away, or was disconnected): a normal end. A cancellation the host
            // asked for (shutdown) is the service's to report.
            _endReason ??= ex is OperationCanceledException ? "the stream was cancelled" : "the stream was reset";
            if (ex is OperationCanceledException && Volatile.Read(ref _disconnected) == 0)
            {
                throw;
            }
        }
        finally
        {
            await stopPump.CancelAsync().ConfigureAwait(false);
            Cache.Unregister(this);
            OnEnded();
            Log.Disconnected(Logger, LogName(Node?.Id ?? _claimedNodeId), Peer, Protocol, (Time.GetUtcNow() - ConnectedAt).TotalSeconds, _endReason ?? "the stream ended");
        }
    }

    private async Task PumpAsync<TRequest>(IAsyncEnumerable<TRequest> requests, CancellationToken cancellationToken)
        where TRequest : class, IMessage
    {
        try
        {
            await foreach (var request in requests.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                // The loop learns the node when it handles the first request; a log line before that still names it.
                _claimedNodeId ??= request switch
                {
                    Envoy.Service.Discovery.V3.DiscoveryRequest { Node: { } node } => node.Id,
                    Envoy.Service.Discovery.V3.DeltaDiscoveryRequest { Node: { } node } => node.Id,
                    _ => null,
                };
                var pending = Interlocked.Increment(ref _pendingRequests);
                var bytes = Interlocked.Add(ref _pendingBytes, request.CalculateSize());
                if (pending > Limits.MaxPendingRequests || bytes > Limits.MaxPendingRequestBytes)
                {
                    var reason = string.Format(CultureInfo.InvariantCulture,
                        "it sent {0} requests ({1:N0} bytes) that wait behind responses it does not read (the limit is {2} requests, {3:N0} bytes)",
                        pending, bytes, Limits.MaxPendingRequests, Limits.MaxPendingRequestBytes);
                    _events.Writer.TryComplete(new XdsStreamLimitException(reason));
                    Disconnect(reason);
                    return;
                }

                _events.Writer.TryWrite(request);
            }

            _endReason ??= "the client closed the stream";
            _events.Writer.TryComplete();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The client reset or cancelled the stream, or the connection was lost: a normal end of a stream.
            _endReason ??= ex is IOException ? "the client reset the stream" : "the stream was cancelled";
            _events.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            // A real failure (a request over the size limit, a malformed message): a warning naming the client.
            _endReason ??= "reading a request failed: " + ex.Message;
            Log.RequestFailed(Logger, LogName(_claimedNodeId), Peer, ex.Message);
            _events.Writer.TryComplete(ex);
        }
    }

    /// <summary>
    /// Writes <paramref name="response"/> (<paramref name="write"/> is its write), giving up (and disconnecting the
    /// client) when it has not gone out within <see cref="XdsStreamLimits.SendTimeout"/> (the client is not reading), or
    /// at once when, blocked, it would take the bytes waiting for all such clients over
    /// <see cref="XdsStreamLimits.MaxBlockedResponseBytes"/>.
    /// </summary>
    protected async Task SendAsync(Task write, IMessage response)
    {
        ArgumentNullException.ThrowIfNull(write);
        ArgumentNullException.ThrowIfNull(response);
        if (!write.IsCompleted)
        {
            var infinite = Limits.SendTimeout == Timeout.InfiniteTimeSpan;
            var grace = !infinite && Limits.SendTimeout < TimeSpan.FromSeconds(2) ? Limits.SendTimeout / 2 : TimeSpan.FromSeconds(1);
            if (!await WaitAsync(write, grace).ConfigureAwait(false))
            {
                // Blocked by flow control: the response now counts against the budget of all blocked responses.
                long size = response.CalculateSize();
                var total = Cache.AddBlockedResponseBytes(size);
                try
                {
                    if (total > Limits.MaxBlockedResponseBytes)
                    {
                        Observe(write);
                        throw new XdsStreamLimitException(string.Format(CultureInfo.InvariantCulture,
                            "it did not read a {0:N0}-byte response, and responses waiting for clients that do not read reached {1:N0} bytes (the limit is {2:N0})",
                            size, total, Limits.MaxBlockedResponseBytes));
                    }

                    if (!await WaitAsync(write, infinite ? Timeout.InfiniteTimeSpan : Limits.SendTimeout - grace).ConfigureAwait(false))
                    {
                        Observe(write);
                        throw new XdsStreamLimitException(string.Format(CultureInfo.InvariantCulture,
                            "it did not read a response for {0:0.#} s (HTTP/2 flow control held it back)", Limits.SendTimeout.TotalSeconds));
                    }
                }
                finally
                {
                    Cache.AddBlockedResponseBytes(-size);
                }
            }
        }

        await write.ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="write"/> ended (either way) within <paramref name="timeout"/>.</summary>
    private async Task<bool> WaitAsync(Task write, TimeSpan timeout)
    {
        using var stopDelay = new CancellationTokenSource();
        var delay = Task.Delay(timeout, Time, stopDelay.Token);
        if (await Task.WhenAny(write, delay).ConfigureAwait(false) == write)
        {
            await stopDelay.CancelAsync().ConfigureAwait(false);
            return true;
        }

        return write.IsCompleted;
    }

    /// <summary>Observes a write given up on, so its eventual failure is not an unobserved task exception.</summary>
    private static void Observe(Task write) =>
        _ = write.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    /// <summary>Disconnects the client (once): logs why, naming it, and resets its stream.</summary>
    protected void Disconnect(string reason)
    {
        if (Interlocked.Exchange(ref _disconnected, 1) != 0)
        {
            return;
        }

        _endReason = "disconnected: " + reason;
        Log.DisconnectedAbuser(Logger, LogName(Node?.Id ?? _claimedNodeId), Peer, reason);
        _events.Writer.TryComplete();
        Abort?.Invoke();
    }

    /// <summary>Checks a request's resource names against the limits; throws <see cref="XdsStreamLimitException"/> when over one.</summary>
    protected void CheckNames(string typeUrl, IEnumerable<string> names, int subscribedAfter)
    {
        if (subscribedAfter > Limits.MaxResourceNamesPerType)
        {
            throw new XdsStreamLimitException(string.Format(CultureInfo.InvariantCulture,
                "it subscribed to {0} names of {1} (the limit is {2})", subscribedAfter, typeUrl, Limits.MaxResourceNamesPerType));
        }

        var serverListeners = 0;
        foreach (var name in names)
        {
            if (name.Length > Limits.MaxResourceNameLength)
            {
                throw new XdsStreamLimitException(string.Format(CultureInfo.InvariantCulture,
                    "it asked for a {0} name of {1} characters (the limit is {2})", typeUrl, name.Length, Limits.MaxResourceNameLength));
            }

            if (typeUrl == XdsTypeUrls.Listener && name.StartsWith(ServerListenerPrefix, StringComparison.Ordinal)
                && ++serverListeners > Limits.MaxServerListenerNames)
            {
                throw new XdsStreamLimitException(string.Format(CultureInfo.InvariantCulture,
                    "it asked for more than {0} server listeners", Limits.MaxServerListenerNames));
            }
        }
    }

    /// <summary>
    /// The resource of <paramref name="typeUrl"/> this client means by <paramref name="name"/>, or null. Resources
    /// scoped to a workload (server listeners) are found only when the client may act as the workload it claims.
    /// </summary>
    protected XdsResource? Find(XdsResourceSet set, string typeUrl, string name)
    {
        if (typeUrl == XdsTypeUrls.Listener && XdsSecurityNames.TryParseServerListenerName(name, out _, out _)
            && !set.Of(typeUrl).ContainsKey(name) && !MayActAsWorkload(name))
        {
            return null;
        }

        return set.Find(typeUrl, name, Workload);
    }

    private bool MayActAsWorkload(string name)
    {
        if (TrustMetadataIdentity)
        {
            return true;
        }

        if (Security.WorkloadIdentityBinding.Matches(Cache.Snapshot, AuthenticatedIdentity, Workload, out var reason))
        {
            return true;
        }

        if (!_identityRefusalLogged)
        {
            _identityRefusalLogged = true;
            Log.IdentityRefused(Logger, LogName(Node?.Id), Peer, name, Workload.Key, reason);
        }

        return false;
    }

    /// <summary>
    /// What <paramref name="subscription"/> stands for in <paramref name="set"/> for this client: shared with every stream
    /// of the same subscription and workload (<see cref="XdsResolvedMemo"/>), worked out here when none has yet.
    /// </summary>
    private protected XdsResolved Resolve(XdsResourceSet set, XdsSubscription subscription) =>
        Cache.Memo.Get(set, subscription, Workload.Key, this, static (self, s, sub) => self.ResolveUncached(s, sub));

    private XdsResolved ResolveUncached(XdsResourceSet set, XdsSubscription subscription)
    {
        var all = set.Of(subscription.TypeUrl);
        var wanted = new List<XdsResource>(subscription.Wildcard ? all.Count + subscription.Names.Length : subscription.Names.Length);
        if (subscription.Wildcard)
        {
            foreach (var (_, resource) in all)
            {
                wanted.Add(resource);
            }

            wanted.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        }

        foreach (var name in subscription.Names)
        {
            if (subscription.Wildcard && all.ContainsKey(name))
            {
                continue;
            }

            if (Find(set, subscription.TypeUrl, name) is { } resource)
            {
                wanted.Add(resource);
            }
        }

        return wanted.Count == 0 ? XdsResolved.Empty : new XdsResolved([.. wanted]);
    }

    /// <summary>Lets go of what the stream shares with others (its subscriptions); called once, when it ends.</summary>
    private protected virtual void OnEnded()
    {
    }

    /// <summary>Handles one request from the client.</summary>
    protected abstract Task HandleRequestAsync(object request);

    /// <summary>Pushes whatever changed in <paramref name="set"/> to the client.</summary>
    protected abstract Task PushChangesAsync(XdsResourceSet set);

    /// <summary>A fresh nonce.</summary>
    protected string NextNonce() => Interlocked.Increment(ref _nonce).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Learns the client's node and namespace from its first request; a node over the limits ends the stream.</summary>
    protected void LearnNode(Node? node)
    {
        if (Node is not null || node is null)
        {
            return;
        }

        if (node.Id.Length > Limits.MaxNodeIdLength)
        {
            throw new XdsStreamLimitException(string.Format(CultureInfo.InvariantCulture,
                "its node id has {0} characters (the limit is {1})", node.Id.Length, Limits.MaxNodeIdLength));
        }

        if (node.CalculateSize() is var size && size > Limits.MaxNodeBytes)
        {
            throw new XdsStreamLimitException(string.Format(CultureInfo.InvariantCulture,
                "its node (metadata included) has {0:N0} bytes (the limit is {1:N0})", size, Limits.MaxNodeBytes));
        }

        Node = node;
        Namespace = NamespaceOf(node);
        Workload = Translation.ClientWorkload.FromNode(node, Namespace);
        Log.Connected(Logger, node.Id, Protocol, Peer, Namespace);
    }

    /// <summary>
    /// The namespace of a node: its <c>NAMESPACE</c> metadata (as Istio's agents and Mesh's bootstrap set it),
    /// else the third part of an Istio-style id (<c>sidecar~ip~pod.ns~ns.svc.cluster.local</c>), else "default".
    /// </summary>
    internal static string NamespaceOf(Node node)
    {
        if (node.Metadata?.Fields.TryGetValue("NAMESPACE", out var value) == true && value.StringValue is { Length: > 0 } ns)
        {
            return ns;
        }

        var parts = node.Id.Split('~');
        if (parts.Length == 4 && parts[2].Split('.') is [_, { Length: > 0 } idNamespace, ..])
        {
            return idNamespace;
        }

        return "default";
    }

    /// <summary>A NACK's error detail as kept and logged: cut to <see cref="XdsStreamLimits.MaxNackMessageLength"/>.</summary>
    protected string NackMessage(string message) => LogRateLimiter.Truncate(message, Limits.MaxNackMessageLength);

    /// <summary>Logs a rejection, unless too many were logged lately (see <see cref="XdsStreamLimits.NackLogBurst"/>).</summary>
    protected void LogNack(string typeUrl, string nonce, string message)
    {
        if (Cache.NackLog.TryAcquire(out var suppressed))
        {
            Log.Nacked(Logger, LogName(Node?.Id), typeUrl, nonce, NackMessage(message), suppressed);
        }
    }

    /// <summary>A client-supplied name cut short for a log line.</summary>
    private static string LogName(string? nodeId) => nodeId is null ? "(no node yet)" : LogRateLimiter.Truncate(nodeId, 128);

    /// <summary>The prefix of server listener names (gRFC A36).</summary>
    private const string ServerListenerPrefix = "grpc/server";

    private sealed class ChangeMarker
    {
        public static readonly ChangeMarker Instance = new();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "xDS client {NodeId} connected ({Protocol}) from {Peer}, namespace {Namespace}.")]
        public static partial void Connected(ILogger logger, string nodeId, string protocol, string peer, string @namespace);

        [LoggerMessage(2, LogLevel.Warning, "xDS client {NodeId} rejected {TypeUrl} (nonce {Nonce}): {Message} ({Suppressed} similar rejections not logged before this one)")]
        public static partial void Nacked(ILogger logger, string nodeId, string typeUrl, string nonce, string message, long suppressed);

        [LoggerMessage(3, LogLevel.Information, "xDS client {NodeId} ({Protocol}) from {Peer} disconnected after {Seconds:F0} s: {Reason}.")]
        public static partial void Disconnected(ILogger logger, string nodeId, string peer, string protocol, double seconds, string reason);

        [LoggerMessage(4, LogLevel.Warning, "Disconnecting xDS client {NodeId} from {Peer}: {Reason}.")]
        public static partial void DisconnectedAbuser(ILogger logger, string nodeId, string peer, string reason);

        [LoggerMessage(6, LogLevel.Warning, "Reading a request from xDS client {NodeId} at {Peer} failed: {Message}.")]
        public static partial void RequestFailed(ILogger logger, string nodeId, string peer, string message);

        [LoggerMessage(5, LogLevel.Warning, "xDS client {NodeId} from {Peer} asked for {Name}, scoped to the workload {Workload} its node claims, but {Reason}; not sent (further refusals on this stream are not logged).")]
        public static partial void IdentityRefused(ILogger logger, string nodeId, string peer, string name, string workload, string reason);
    }
}
