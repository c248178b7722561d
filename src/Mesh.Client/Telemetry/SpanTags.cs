namespace Mesh.Client.Telemetry;

/// <summary>The span tags Envoy (<c>tracing/common_values.h</c>) and Istio (<c>buildServiceTags</c>) set, for Mesh's spans.</summary>
internal static class SpanTags
{
    public const string Component = "component";
    public const string NodeId = "node_id";
    public const string RequestId = "guid:x-request-id";
    public const string HttpUrl = "http.url";
    public const string HttpMethod = "http.method";
    public const string HttpProtocol = "http.protocol";
    public const string HttpStatusCode = "http.status_code";
    public const string GrpcStatusCode = "grpc.status_code";
    public const string GrpcPath = "grpc.path";
    public const string UpstreamCluster = "upstream_cluster";
    public const string UpstreamClusterName = "upstream_cluster.name";
    public const string UpstreamAddress = "upstream_address";
    public const string DownstreamCluster = "downstream_cluster";
    public const string RequestSize = "request_size";
    public const string ResponseSize = "response_size";
    public const string ResponseFlags = "response_flags";
    public const string Error = "error";
    public const string CanonicalService = "istio.canonical_service";
    public const string CanonicalRevision = "istio.canonical_revision";
    public const string Namespace = "istio.namespace";
    public const string MeshId = "istio.mesh_id";
    public const string ClusterId = "istio.cluster_id";

    /// <summary>Tags every span of a workload carries (Istio's literal tags, the node id).</summary>
    public static void AddWorkload(System.Diagnostics.Activity activity, WorkloadMetadata self)
    {
        activity.SetTag(Component, "proxy");
        activity.SetTag(NodeId, self.NodeId);
        activity.SetTag(CanonicalService, self.CanonicalService);
        activity.SetTag(CanonicalRevision, self.CanonicalRevision);
        activity.SetTag(Namespace, self.Namespace);
        activity.SetTag(MeshId, self.MeshId);
        activity.SetTag(ClusterId, self.Cluster);
    }
}
