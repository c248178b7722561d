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
    public void SetDestinationService(string host, string defaultNamespace)
    {
        DestinationService = host;
        var dot = host.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            DestinationServiceName = host;
            DestinationServiceNamespace = defaultNamespace;
            return;
        }

        DestinationServiceName = host[..dot];
        var rest = host.AsSpan(dot + 1);
        var next = rest.IndexOf('.');
        DestinationServiceNamespace = (next < 0 ? rest : rest[..next]).ToString();
    }

    public TagList ToTags()
    {
        var source = Source;
        var destination = Destination;
        return new TagList
        {
            { IstioLabels.Reporter, Reporter },
            { IstioLabels.SourceWorkload, source.Workload },
            { IstioLabels.SourceWorkloadNamespace, SourceNamespaceOverride ?? source.Namespace },
            { IstioLabels.SourcePrincipal, SourcePrincipal },
            { IstioLabels.SourceApp, source.App },
            { IstioLabels.SourceVersion, source.Version },
            { IstioLabels.SourceCanonicalService, source.CanonicalService },
            { IstioLabels.SourceCanonicalRevision, source.CanonicalRevision },
            { IstioLabels.SourceCluster, source.Cluster },
            { IstioLabels.DestinationWorkload, destination.Workload },
            { IstioLabels.DestinationWorkloadNamespace, destination.Namespace },
            { IstioLabels.DestinationPrincipal, DestinationPrincipal },
            { IstioLabels.DestinationApp, destination.App },
            { IstioLabels.DestinationVersion, destination.Version },
            { IstioLabels.DestinationService, DestinationService },
            { IstioLabels.DestinationServiceName, DestinationServiceName },
            { IstioLabels.DestinationServiceNamespace, DestinationServiceNamespace },
            { IstioLabels.DestinationCanonicalService, destination.CanonicalService },
            { IstioLabels.DestinationCanonicalRevision, destination.CanonicalRevision },
            { IstioLabels.DestinationCluster, destination.Cluster },
            { IstioLabels.RequestProtocol, Protocol },
            { IstioLabels.ResponseFlags, ResponseFlagsText.Of(Flags) },
            { IstioLabels.ConnectionSecurityPolicy, SecurityPolicy },
            { IstioLabels.ResponseCode, IstioLabels.Code(ResponseCode) },
            { IstioLabels.GrpcResponseStatus, GrpcStatus is { } status ? IstioLabels.Code(status) : string.Empty },
        };
    }
}
