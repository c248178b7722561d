using System.Diagnostics;
using Mesh.Client.Bootstrap;
using Mesh.Client.Diagnostics;
using Mesh.Client.Internal;

namespace Mesh.Client.Telemetry;

/// <summary>
/// The client's telemetry for one application (service provider): who this workload is (from the bootstrap node),
/// the metadata-exchange headers it sends, and Istio's request metrics with <c>reporter="source"</c> on the
/// <c>Mesh.Client</c> meter.
/// </summary>
internal sealed class ClientTelemetry
{
    /// <summary>Istio's metrics on the Mesh.Client meter.</summary>
    public static readonly IstioMetrics Metrics = new(MeshClientDiagnostics.Meter);

    /// <summary>gRPC's A66 client metrics on the Mesh.Client meter.</summary>
    public static readonly GrpcMetrics Grpc = GrpcMetrics.ForClient(MeshClientDiagnostics.Meter);

    private readonly Lazy<XdsNode> _node;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Cluster, string Authority), DestinationServiceLabels> _destinations = new();
    private WorkloadMetadata? _self;
    private string? _metadataHeader;

    private readonly Lazy<TraceSampling> _sampling;

    public ClientTelemetry(XdsClientProvider provider, Microsoft.Extensions.Options.IOptions<MeshClientOptions> options)
        : this(() => provider.Client.Bootstrap.Node, options.Value.Telemetry, () => provider.Client.ClientSampling)
    {
    }

    public ClientTelemetry(Func<XdsNode> node, MeshTelemetryOptions? options = null, Func<TraceSampling>? sampling = null)
    {
        _node = new Lazy<XdsNode>(node);
        Options = options ?? new MeshTelemetryOptions();
        _sampling = new Lazy<TraceSampling>(sampling ?? (static () => new TraceSampling()));
    }

    /// <summary>What is switched on.</summary>
    public MeshTelemetryOptions Options { get; }

    /// <summary>
    /// Whether calls are measured now: metrics are on and a listener has enabled one of the client's request
    /// instruments. Checked per call, so a listener added later (or removed) takes effect on the next call.
    /// </summary>
    public bool Measuring => Options.Metrics && (Metrics.Enabled || Metrics.RequestMessages.Enabled || Grpc.Enabled);

    /// <summary>Whether calls are measured or may be traced now: calls are then tracked with their cluster and flags.</summary>
    public bool Observing => Measuring || Tracing;

    /// <summary>Whether client spans may be started now: tracing is on and something listens to the source.</summary>
    public bool Tracing => Options.Tracing && MeshClientDiagnostics.ActivitySource.HasListeners();

    /// <summary>The mesh's trace sampling for this workload's calls (see <see cref="TraceSampling"/>).</summary>
    public TraceSampling Sampling => _sampling.Value;

    /// <summary>This workload.</summary>
    public WorkloadMetadata Self => _self ??= WorkloadMetadata.FromNode(_node.Value);

    /// <summary>The value of <c>x-envoy-peer-metadata</c> this workload sends.</summary>
    public string MetadataHeader => _metadataHeader ??= PeerMetadataCodec.Encode(WorkloadMetadata.ExchangedMetadata(_node.Value, Self));

    /// <summary>The value of <c>x-envoy-peer-metadata-id</c> this workload sends.</summary>
    public string IdHeader => _node.Value.Id;

    /// <summary>A request from this workload, before its outcome is known.</summary>
    public IstioRequest NewRequest(string protocol) => new()
    {
        Reporter = IstioLabels.Source,
        Source = Self,
        Protocol = protocol,
        SecurityPolicy = IstioLabels.Unknown, // istio-proxy never sets it on the client side
    };

    /// <summary>
    /// Sets the destination service from the cluster (<c>outbound|port|subset|host</c>) when the call has one, else from
    /// the request's authority, a short name completed in this workload's namespace (Istio's rule).
    /// </summary>
    public void SetDestinationService(IstioRequest request, string? cluster, string? authority) =>
        request.SetDestinationService(DestinationFor(cluster, authority));

    /// <summary>The destination-service labels for a call to <paramref name="cluster"/> / <paramref name="authority"/> (cached, bounded).</summary>
    public DestinationServiceLabels DestinationFor(string? cluster, string? authority)
    {
        var key = (cluster ?? string.Empty, authority ?? string.Empty);
        if (_destinations.TryGetValue(key, out var labels))
        {
            return labels;
        }

        labels = ComputeDestination(cluster, authority).WithSpanName();
        if (_destinations.Count < 4096)
        {
            _destinations.TryAdd(key, labels);
        }

        return labels;
    }

    private DestinationServiceLabels ComputeDestination(string? cluster, string? authority)
    {
        if (cluster is not null && cluster.StartsWith("outbound|", StringComparison.Ordinal))
        {
            var bar = cluster.LastIndexOf('|');
            return DestinationServiceLabels.ForHost(cluster[(bar + 1)..], Self.Namespace);
        }

        if (string.IsNullOrEmpty(authority))
        {
            return DestinationServiceLabels.Unknown;
        }

        var host = authority;
        var colon = host.LastIndexOf(':');
        if (colon > 0 && host.IndexOf(']', StringComparison.Ordinal) < colon)
        {
            host = host[..colon];
        }

        var dots = host.AsSpan().Count('.');
        if (!System.Net.IPAddress.TryParse(host, out _) && Self.Namespace != IstioLabels.Unknown)
        {
            host = dots switch
            {
                0 => host + "." + Self.Namespace + ".svc.cluster.local",
                1 => host + ".svc.cluster.local",
                2 when host.EndsWith(".svc", StringComparison.Ordinal) => host + ".cluster.local",
                _ => host,
            };
        }

        return DestinationServiceLabels.ForHost(host, Self.Namespace);
    }

    /// <summary>Records a finished request.</summary>
    public static void Record(IstioRequest request) => Metrics.Record(request);

    /// <summary>Milliseconds since <paramref name="start"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static double ElapsedMilliseconds(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;
}
