using System.Diagnostics;

namespace Mesh.Client.Telemetry;

/// <summary>One request as Istio's metrics describe it: both workloads, the service, and the outcome.</summary>
internal sealed class IstioRequest
{
    public string Reporter { get; set; } = IstioLabels.Source;

    public WorkloadMetadata Source { get; set; } = WorkloadMetadata.Unknown;

    public string SourcePrincipal { get; set; } = IstioLabels.Unknown;

    public WorkloadMetadata Destination { get; set; } = WorkloadMetadata.Unknown;

    public string DestinationPrincipal { get; set; } = IstioLabels.Unknown;

    public string DestinationService { get; set; } = IstioLabels.Unknown;

    public string DestinationServiceName { get; set; } = IstioLabels.Unknown;

    public string DestinationServiceNamespace { get; set; } = IstioLabels.Unknown;

    /// <summary>Overrides the destination's namespace (a server knows its caller's namespace from its SPIFFE ID).</summary>
    public string? SourceNamespaceOverride { get; set; }

    public string Protocol { get; set; } = IstioLabels.Http;

    public ResponseFlags Flags { get; set; }

    public string SecurityPolicy { get; set; } = IstioLabels.Unknown;

    /// <summary>The HTTP status; 0 when no response came back.</summary>
    public int ResponseCode { get; set; }

    /// <summary>The gRPC status code, or null for HTTP traffic (label <c>""</c>).</summary>
    public int? GrpcStatus { get; set; }

    public double DurationMilliseconds { get; set; }

    public long RequestBytes { get; set; }

    public long ResponseBytes { get; set; }

    public long RequestMessages { get; set; }

    public long ResponseMessages { get; set; }

    /// <summary>Sets the three destination-service labels from a host name (<c>reviews.default.svc.cluster.local</c>).</summary>
    public void SetDestinationService(string host, string defaultNamespace) =>
        SetDestinationService(DestinationServiceLabels.ForHost(host, defaultNamespace));

    /// <summary>The number of labels <see cref="FillTags"/> writes.</summary>
    public const int TagCount = 25;

    /// <summary>Sets the three destination-service labels at once, from labels computed earlier for the same service.</summary>
    public void SetDestinationService(DestinationServiceLabels labels)
    {
        DestinationService = labels.Service;
        DestinationServiceName = labels.Name;
        DestinationServiceNamespace = labels.Namespace;
    }

    /// <summary>
    /// Writes Istio's <see cref="TagCount"/> labels into <paramref name="tags"/> (istio-proxy's order). More than
    /// <see cref="TagList"/> keeps inline, so callers pass a reused buffer instead of allocating one per request.
    /// </summary>
    public void FillTags(Span<KeyValuePair<string, object?>> tags)
    {
        var source = Source;
        var destination = Destination;
        tags[0] = new(IstioLabels.Reporter, Reporter);
        tags[1] = new(IstioLabels.SourceWorkload, source.Workload);
        tags[2] = new(IstioLabels.SourceWorkloadNamespace, SourceNamespaceOverride ?? source.Namespace);
        tags[3] = new(IstioLabels.SourcePrincipal, SourcePrincipal);
        tags[4] = new(IstioLabels.SourceApp, source.App);
        tags[5] = new(IstioLabels.SourceVersion, source.Version);
        tags[6] = new(IstioLabels.SourceCanonicalService, source.CanonicalService);
        tags[7] = new(IstioLabels.SourceCanonicalRevision, source.CanonicalRevision);
        tags[8] = new(IstioLabels.SourceCluster, source.Cluster);
        tags[9] = new(IstioLabels.DestinationWorkload, destination.Workload);
        tags[10] = new(IstioLabels.DestinationWorkloadNamespace, destination.Namespace);
        tags[11] = new(IstioLabels.DestinationPrincipal, DestinationPrincipal);
        tags[12] = new(IstioLabels.DestinationApp, destination.App);
        tags[13] = new(IstioLabels.DestinationVersion, destination.Version);
        tags[14] = new(IstioLabels.DestinationService, DestinationService);
        tags[15] = new(IstioLabels.DestinationServiceName, DestinationServiceName);
        tags[16] = new(IstioLabels.DestinationServiceNamespace, DestinationServiceNamespace);
        tags[17] = new(IstioLabels.DestinationCanonicalService, destination.CanonicalService);
        tags[18] = new(IstioLabels.DestinationCanonicalRevision, destination.CanonicalRevision);
        tags[19] = new(IstioLabels.DestinationCluster, destination.Cluster);
        tags[20] = new(IstioLabels.RequestProtocol, Protocol);
        tags[21] = new(IstioLabels.ResponseFlags, ResponseFlagsText.Of(Flags));
        tags[22] = new(IstioLabels.ConnectionSecurityPolicy, SecurityPolicy);
        tags[23] = new(IstioLabels.ResponseCode, IstioLabels.Code(ResponseCode));
        tags[24] = new(IstioLabels.GrpcResponseStatus, GrpcStatus is { } status ? IstioLabels.Code(status) : string.Empty);
    }
}
