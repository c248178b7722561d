namespace Mesh.Xds;

/// <summary>
/// Type URLs of the xDS resources and extension configurations Mesh uses. They identify resource types in
/// <c>DiscoveryRequest.type_url</c> and the payload type of every <see cref="Google.Protobuf.WellKnownTypes.Any"/>.
/// </summary>
public static class XdsTypeUrls
{
    private const string Prefix = "type.googleapis.com/";

    /// <summary>LDS resource: <c>envoy.config.listener.v3.Listener</c>.</summary>
    public const string Listener = Prefix + "envoy.config.listener.v3.Listener";

    /// <summary>RDS resource: <c>envoy.config.route.v3.RouteConfiguration</c>.</summary>
    public const string RouteConfiguration = Prefix + "envoy.config.route.v3.RouteConfiguration";

    /// <summary>CDS resource: <c>envoy.config.cluster.v3.Cluster</c>.</summary>
    public const string Cluster = Prefix + "envoy.config.cluster.v3.Cluster";

    /// <summary>EDS resource: <c>envoy.config.endpoint.v3.ClusterLoadAssignment</c>.</summary>
    public const string ClusterLoadAssignment = Prefix + "envoy.config.endpoint.v3.ClusterLoadAssignment";

    /// <summary>SDS resource: <c>envoy.extensions.transport_sockets.tls.v3.Secret</c>.</summary>
    public const string Secret = Prefix + "envoy.extensions.transport_sockets.tls.v3.Secret";

    /// <summary>
    /// HTTP connection manager, the configuration inside a listener's <c>api_listener</c> or network filter.
    /// </summary>
    public const string HttpConnectionManager =
        Prefix + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

    /// <summary>Router HTTP filter configuration.</summary>
    public const string Router = Prefix + "envoy.extensions.filters.http.router.v3.Router";

    /// <summary>Fault-injection HTTP filter configuration (<c>HTTPFault</c>).</summary>
    public const string HttpFault = Prefix + "envoy.extensions.filters.http.fault.v3.HTTPFault";

    /// <summary>RBAC HTTP filter configuration (the filter's <c>RBAC</c>, not the policy message it wraps).</summary>
    public const string Rbac = Prefix + "envoy.extensions.filters.http.rbac.v3.RBAC";

    /// <summary>Per-route override of the RBAC HTTP filter.</summary>
    public const string RbacPerRoute = Prefix + "envoy.extensions.filters.http.rbac.v3.RBACPerRoute";

    /// <summary>Client-side TLS transport socket configuration.</summary>
    public const string UpstreamTlsContext = Prefix + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

    /// <summary>Server-side TLS transport socket configuration.</summary>
    public const string DownstreamTlsContext = Prefix + "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
}
