using Mesh.Client.Bootstrap;
using Mesh.Client.Internal;
using Mesh.Client.Telemetry;
using Mesh.Server.Diagnostics;

namespace Mesh.Server.Telemetry;

/// <summary>
/// The server's telemetry for one application: who this workload is (from the bootstrap node), the metadata it
/// answers mesh callers with, and Istio's request metrics with <c>reporter="destination"</c> on the
/// <c>Mesh.Server</c> meter.
/// </summary>
internal sealed class ServerTelemetry
{
    /// <summary>Istio's metrics on the Mesh.Server meter.</summary>
    public static readonly IstioMetrics Metrics = new(MeshServerDiagnostics.Meter);

    /// <summary>gRPC's A66 server metrics on the Mesh.Server meter.</summary>
    public static readonly GrpcMetrics Grpc = GrpcMetrics.ForServer(MeshServerDiagnostics.Meter);

    private readonly Lazy<XdsNode> _node;
    private WorkloadMetadata? _self;
    private string? _metadataHeader;

    public ServerTelemetry(XdsClientProvider provider)
        : this(() => provider.Client.Bootstrap.Node)
    {
    }

    public ServerTelemetry(Func<XdsNode> node) => _node = new Lazy<XdsNode>(node);

    public WorkloadMetadata Self => _self ??= WorkloadMetadata.FromNode(_node.Value);

    public string MetadataHeader => _metadataHeader ??= PeerMetadataCodec.Encode(WorkloadMetadata.ExchangedMetadata(_node.Value, Self));

    public string IdHeader => _node.Value.Id;
}
