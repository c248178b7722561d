using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Extensions.Filters.Http.Rbac.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Listener.HttpInspector.V3;
using Envoy.Extensions.Filters.Listener.OriginalDst.V3;
using Envoy.Extensions.Filters.Listener.TlsInspector.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Envoy.Extensions.TransportSockets.RawBuffer.V3;
using Envoy.Extensions.Upstreams.Http.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf.Reflection;

namespace Mesh.Xds;

/// <summary>
/// The protobuf types that can appear inside a <see cref="Google.Protobuf.WellKnownTypes.Any"/> in Mesh's xDS
/// resources, for formatting and parsing them as JSON (<see cref="Google.Protobuf.JsonFormatter.Settings.WithTypeRegistry"/>).
/// </summary>
public static class XdsTypeRegistry
{
    /// <summary>
    /// Gets a registry holding the xDS resource types (listener, route configuration, cluster, cluster load assignment,
    /// secret), the HTTP connection manager, the TCP proxy, the listener filters Envoy sidecars use (TLS and HTTP
    /// inspectors, original destination), the raw-buffer transport socket, the router, fault and RBAC filter configurations, the TLS contexts, and
    /// every message those files depend on.
    /// </summary>
    public static TypeRegistry Default { get; } = TypeRegistry.FromMessages(
        Listener.Descriptor,
        RouteConfiguration.Descriptor,
        FilterConfig.Descriptor,
        Cluster.Descriptor,
        ClusterLoadAssignment.Descriptor,
        Secret.Descriptor,
        HttpConnectionManager.Descriptor,
        Router.Descriptor,
        HTTPFault.Descriptor,
        RBAC.Descriptor,
        RBACPerRoute.Descriptor,
        UpstreamTlsContext.Descriptor,
        DownstreamTlsContext.Descriptor,
        TcpProxy.Descriptor,
        TlsInspector.Descriptor,
        HttpInspector.Descriptor,
        OriginalDst.Descriptor,
        RawBuffer.Descriptor,
        HttpProtocolOptions.Descriptor);
}
