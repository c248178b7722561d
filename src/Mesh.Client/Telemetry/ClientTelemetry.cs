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
    private WorkloadMetadata? _self;
    private string? _metadataHeader;

    private readonly Lazy<TraceSampling> _sampling;

    public ClientTelemetry(XdsClientProvider provider)
        : this(() => provider.Client.Bootstrap.Node, () => provider.Client.ClientSampling)
    {
    }

    public ClientTelemetry(Func<XdsNode> node, Func<TraceSampling>? sampling = null)
    {
        _node = new Lazy<XdsNode>(node);
        _sampling = new Lazy<TraceSampling>(sampling ?? (static () => new TraceSampling()));
    }

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
    public void SetDestinationService(IstioRequest request, string? cluster, string? authority)
    {
        if (cluster is not null && cluster.StartsWith("outbound|", StringComparison.Ordinal))
        {
            var bar = cluster.LastIndexOf('|');
            request.SetDestinationService(cluster[(bar + 1)..], Self.Namespace);
            return;
        }

        if (string.IsNullOrEmpty(authority))
        {
            return;
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

        request.SetDestinationService(host, Self.Namespace);
    }

    /// <summary>Records a finished request.</summary>
    public static void Record(IstioRequest request) => Metrics.Record(request);

    /// <summary>Milliseconds since <paramref name="start"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static double ElapsedMilliseconds(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;
}
