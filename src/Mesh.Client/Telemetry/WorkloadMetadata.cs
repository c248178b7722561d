using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Bootstrap;

namespace Mesh.Client.Telemetry;

/// <summary>
/// A workload as Istio's telemetry labels describe it, read from node metadata the way istio-proxy reads it: its own
/// from the xDS bootstrap's <c>node.metadata</c>, a peer's from the <c>x-envoy-peer-metadata</c> header. Missing values
/// are <c>unknown</c>, except the canonical revision, which defaults to <c>latest</c>.
/// </summary>
internal sealed record WorkloadMetadata
{
    public const string NamespaceKey = "NAMESPACE";
    public const string LabelsKey = "LABELS";
    public const string WorkloadNameKey = "WORKLOAD_NAME";
    public const string ClusterIdKey = "CLUSTER_ID";
    public const string MeshIdKey = "MESH_ID";
    public const string CanonicalNameLabel = "service.istio.io/canonical-name";
    public const string CanonicalRevisionLabel = "service.istio.io/canonical-revision";

    /// <summary>Istio's default cluster id, used when the node metadata names none.</summary>
    public const string DefaultClusterId = "Kubernetes";

    /// <summary>A workload nothing is known about.</summary>
    public static readonly WorkloadMetadata Unknown = new();

    public string Workload { get; init; } = IstioLabels.Unknown;

    public string Namespace { get; init; } = IstioLabels.Unknown;

    public string App { get; init; } = IstioLabels.Unknown;

    public string Version { get; init; } = IstioLabels.Unknown;

    public string CanonicalService { get; init; } = IstioLabels.Unknown;

    public string CanonicalRevision { get; init; } = IstioLabels.Latest;

    public string Cluster { get; init; } = IstioLabels.Unknown;

    public string MeshId { get; init; } = IstioLabels.Unknown;

    /// <summary>The node id (the <c>x-envoy-peer-metadata-id</c> value), or empty.</summary>
    public string NodeId { get; init; } = string.Empty;

    /// <summary>
    /// This process as the bootstrap describes it. Istio's fallbacks apply: the canonical service is the
    /// <c>service.istio.io/canonical-name</c> label, else <c>app.kubernetes.io/name</c>, else <c>app</c>, else the
    /// workload; the revision likewise from <c>…/canonical-revision</c>, <c>app.kubernetes.io/version</c>, <c>version</c>.
    /// A node without <c>WORKLOAD_NAME</c> is named after its <c>app</c> label (and <c>version</c>: <c>reviews-v2</c>, the
    /// name of Bookinfo's deployments); a node without <c>CLUSTER_ID</c> is in Istio's default cluster <c>Kubernetes</c>.
    /// </summary>
    public static WorkloadMetadata FromNode(XdsNode node)
    {
        var local = FromStruct(node.Metadata, node.Id, selfDescribed: true);
        return local;
    }

    /// <summary>
    /// A workload from node metadata (a <c>Struct</c> with istio-proxy's keys). With <paramref name="selfDescribed"/>
    /// the fallbacks for our own node apply (workload from labels, default cluster id).
    /// </summary>
    public static WorkloadMetadata FromStruct(Struct metadata, string nodeId, bool selfDescribed = false)
    {
        var labels = metadata.Fields.TryGetValue(LabelsKey, out var l) && l.KindCase == Value.KindOneofCase.StructValue ? l.StructValue : null;
        var app = Label(labels, "app") ?? Label(labels, "app.kubernetes.io/name");
        var version = Label(labels, "version") ?? Label(labels, "app.kubernetes.io/version");
        var workload = Text(metadata, WorkloadNameKey);
        if (workload is null && selfDescribed && app is not null)
        {
            workload = version is null ? app : app + "-" + version;
        }

        var canonicalService = Label(labels, CanonicalNameLabel) ?? Label(labels, "app.kubernetes.io/name") ?? Label(labels, "app") ?? workload;
        var canonicalRevision = Label(labels, CanonicalRevisionLabel) ?? Label(labels, "app.kubernetes.io/version") ?? Label(labels, "version");
        return new WorkloadMetadata
        {
            Workload = workload ?? IstioLabels.Unknown,
            Namespace = Text(metadata, NamespaceKey) ?? IstioLabels.Unknown,
            App = Label(labels, "app") ?? IstioLabels.Unknown,
            Version = Label(labels, "version") ?? IstioLabels.Unknown,
            CanonicalService = canonicalService ?? IstioLabels.Unknown,
            CanonicalRevision = canonicalRevision ?? IstioLabels.Latest,
            Cluster = Text(metadata, ClusterIdKey) ?? (selfDescribed ? DefaultClusterId : IstioLabels.Unknown),
            MeshId = Text(metadata, MeshIdKey) ?? IstioLabels.Unknown,
            NodeId = nodeId,
        };
    }

    /// <summary>
    /// The node metadata this workload sends to its peers (<c>x-envoy-peer-metadata</c>): the keys istio-proxy exchanges
    /// that the bootstrap has, plus the derived <c>WORKLOAD_NAME</c>, <c>NAMESPACE</c> and <c>CLUSTER_ID</c>.
    /// </summary>
    public static Struct ExchangedMetadata(XdsNode node, WorkloadMetadata self)
    {
        var result = new Struct();
        foreach (var key in PeerMetadataCodec.ExchangedKeys)
        {
            if (node.Metadata.Fields.TryGetValue(key, out var value))
            {
                result.Fields[key] = value.Clone();
            }
        }

        SetIfKnown(result, WorkloadNameKey, self.Workload);
        SetIfKnown(result, NamespaceKey, self.Namespace);
        SetIfKnown(result, ClusterIdKey, self.Cluster);
        return result;
    }

    private static void SetIfKnown(Struct target, string key, string value)
    {
        if (!target.Fields.ContainsKey(key) && value != IstioLabels.Unknown)
        {
            target.Fields[key] = Value.ForString(value);
        }
    }

    private static string? Text(Struct metadata, string key) =>
        metadata.Fields.TryGetValue(key, out var value) && value.KindCase == Value.KindOneofCase.StringValue && value.StringValue.Length > 0
            ? value.StringValue
            : null;

    private static string? Label(Struct? labels, string key) => labels is null ? null : Text(labels, key);
}
