using System.Threading.Channels;
using Envoy.Config.Core.V3;
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
public abstract partial class XdsConnection
{
    /// <summary>The order in which types are pushed after a change, so a client never sees a reference to a
    /// resource it cannot have yet: clusters, then their endpoints, then listeners, then their routes.</summary>
    protected static readonly string[] PushOrder =
    [
        XdsTypeUrls.Cluster, XdsTypeUrls.ClusterLoadAssignment, XdsTypeUrls.Listener, XdsTypeUrls.RouteConfiguration,
    ];

    private static long s_nextId;
    private readonly Channel<object> _events = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private int _changePending;
    private long _nonce;

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

    internal void NotifyResourcesChanged()
    {
        if (Interlocked.Exchange(ref _changePending, 1) == 0)
        {
            _events.Writer.TryWrite(ChangeMarker.Instance);
        }
    }

    /// <summary>Runs the stream until the client goes away: requests from <paramref name="requests"/>, pushes on change.</summary>
    protected async Task RunAsync<TRequest>(IAsyncEnumerable<TRequest> requests, CancellationToken cancellationToken)
        where TRequest : class
    {
        Cache.Register(this);
        var pump = PumpAsync(requests, cancellationToken);
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
                    await HandleRequestAsync((TRequest)item).ConfigureAwait(false);
                }
            }

            await pump.ConfigureAwait(false);
        }
        finally
        {
            Cache.Unregister(this);
        }
    }

    private async Task PumpAsync<TRequest>(IAsyncEnumerable<TRequest> requests, CancellationToken cancellationToken)
        where TRequest : class
    {
        try
        {
            await foreach (var request in requests.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                _events.Writer.TryWrite(request);
            }

            _events.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            _events.Writer.TryComplete(ex);
        }
    }

    /// <summary>Handles one request from the client.</summary>
    protected abstract Task HandleRequestAsync(object request);

    /// <summary>Pushes whatever changed in <paramref name="set"/> to the client.</summary>
    protected abstract Task PushChangesAsync(XdsResourceSet set);

    /// <summary>A fresh nonce.</summary>
    protected string NextNonce() => Interlocked.Increment(ref _nonce).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Learns the client's node and namespace from its first request.</summary>
    protected void LearnNode(Node? node)
    {
        if (Node is not null || node is null)
        {
            return;
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

    /// <summary>Logs a rejection.</summary>
    protected void LogNack(string typeUrl, string nonce, string message) =>
        Log.Nacked(Logger, Node?.Id ?? "?", typeUrl, nonce, message);

    private sealed class ChangeMarker
    {
        public static readonly ChangeMarker Instance = new();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "xDS client {NodeId} connected ({Protocol}) from {Peer}, namespace {Namespace}.")]
        public static partial void Connected(ILogger logger, string nodeId, string protocol, string peer, string @namespace);

        [LoggerMessage(2, LogLevel.Warning, "xDS client {NodeId} rejected {TypeUrl} (nonce {Nonce}): {Message}")]
        public static partial void Nacked(ILogger logger, string nodeId, string typeUrl, string nonce, string message);
    }
}
