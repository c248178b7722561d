namespace Mesh.Client.Telemetry;

/// <summary>
/// Istio's standard metric names, label names and label values (istio-proxy's <c>istio_stats</c> filter), shared by
/// the client (<c>reporter="source"</c>) and the server (<c>reporter="destination"</c>). They are public API: Kiali and
/// every Istio dashboard query them by these exact names.
/// </summary>
internal static class IstioLabels
{
    public const string RequestsTotal = "istio_requests_total";
    public const string RequestDuration = "istio_request_duration_milliseconds";
    public const string RequestBytes = "istio_request_bytes";
    public const string ResponseBytes = "istio_response_bytes";
    public const string RequestMessagesTotal = "istio_request_messages_total";
    public const string ResponseMessagesTotal = "istio_response_messages_total";

    public const string Reporter = "reporter";
    public const string SourceWorkload = "source_workload";
    public const string SourceWorkloadNamespace = "source_workload_namespace";
    public const string SourcePrincipal = "source_principal";
    public const string SourceApp = "source_app";
    public const string SourceVersion = "source_version";
    public const string SourceCanonicalService = "source_canonical_service";
    public const string SourceCanonicalRevision = "source_canonical_revision";
    public const string SourceCluster = "source_cluster";
    public const string DestinationWorkload = "destination_workload";
    public const string DestinationWorkloadNamespace = "destination_workload_namespace";
    public const string DestinationPrincipal = "destination_principal";
    public const string DestinationApp = "destination_app";
    public const string DestinationVersion = "destination_version";
    public const string DestinationService = "destination_service";
    public const string DestinationServiceName = "destination_service_name";
    public const string DestinationServiceNamespace = "destination_service_namespace";
    public const string DestinationCanonicalService = "destination_canonical_service";
    public const string DestinationCanonicalRevision = "destination_canonical_revision";
    public const string DestinationCluster = "destination_cluster";
    public const string RequestProtocol = "request_protocol";
    public const string ResponseFlags = "response_flags";
    public const string ConnectionSecurityPolicy = "connection_security_policy";
    public const string ResponseCode = "response_code";
    public const string GrpcResponseStatus = "grpc_response_status";

    /// <summary>Every label of the request metrics, in istio-proxy's order.</summary>
    public static readonly string[] All =
    [
        Reporter, SourceWorkload, SourceWorkloadNamespace, SourcePrincipal, SourceApp, SourceVersion,
        SourceCanonicalService, SourceCanonicalRevision, SourceCluster, DestinationWorkload,
        DestinationWorkloadNamespace, DestinationPrincipal, DestinationApp, DestinationVersion, DestinationService,
        DestinationServiceName, DestinationServiceNamespace, DestinationCanonicalService,
        DestinationCanonicalRevision, DestinationCluster, RequestProtocol, ResponseFlags, ConnectionSecurityPolicy,
        ResponseCode, GrpcResponseStatus,
    ];

    public const string Source = "source";
    public const string Destination = "destination";
    public const string Unknown = "unknown";
    public const string Latest = "latest";
    public const string NoFlags = "-";
    public const string MutualTls = "mutual_tls";
    public const string None = "none";
    public const string Http = "http";
    public const string Grpc = "grpc";

    /// <summary>Envoy's default histogram bucket boundaries (ms for durations; Istio uses them for sizes too).</summary>
    public static readonly double[] EnvoyDefaultBuckets =
        [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    private static readonly string[] Codes = CreateCodes();

    /// <summary>A status code as the label value, without allocating for the usual ones.</summary>
    public static string Code(int code) => (uint)code < (uint)Codes.Length ? Codes[code] : code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string[] CreateCodes()
    {
        var codes = new string[600];
        for (var i = 0; i < codes.Length; i++)
        {
            codes[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return codes;
    }
}
