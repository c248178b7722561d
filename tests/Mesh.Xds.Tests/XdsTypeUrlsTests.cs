using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Extensions.Filters.Http.Rbac.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Mesh.Xds.Tests;

public class XdsTypeUrlsTests
{
    public static TheoryData<string, IMessage> TypeUrlsAndMessages => new()
    {
        { XdsTypeUrls.Listener, new Listener() },
        { XdsTypeUrls.RouteConfiguration, new RouteConfiguration() },
        { XdsTypeUrls.Cluster, new Cluster() },
        { XdsTypeUrls.ClusterLoadAssignment, new ClusterLoadAssignment() },
        { XdsTypeUrls.Secret, new Secret() },
        { XdsTypeUrls.HttpConnectionManager, new HttpConnectionManager() },
        { XdsTypeUrls.Router, new Router() },
        { XdsTypeUrls.HttpFault, new HTTPFault() },
        { XdsTypeUrls.Rbac, new RBAC() },
        { XdsTypeUrls.RbacPerRoute, new RBACPerRoute() },
        { XdsTypeUrls.UpstreamTlsContext, new UpstreamTlsContext() },
        { XdsTypeUrls.DownstreamTlsContext, new DownstreamTlsContext() },
    };

    [Theory]
    [MemberData(nameof(TypeUrlsAndMessages))]
    public void TypeUrl_GeneratedMessage_MatchesDescriptorFullName(string typeUrl, IMessage message)
    {
        Assert.Equal("type.googleapis.com/" + message.Descriptor.FullName, typeUrl);
        Assert.Equal(typeUrl, Any.Pack(message).TypeUrl);
    }

    [Fact]
    public void TypeUrl_ResourceTypes_AreEnvoyV3Names()
    {
        Assert.Equal("type.googleapis.com/envoy.config.listener.v3.Listener", XdsTypeUrls.Listener);
        Assert.Equal("type.googleapis.com/envoy.config.route.v3.RouteConfiguration", XdsTypeUrls.RouteConfiguration);
        Assert.Equal("type.googleapis.com/envoy.config.cluster.v3.Cluster", XdsTypeUrls.Cluster);
        Assert.Equal("type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment", XdsTypeUrls.ClusterLoadAssignment);
        Assert.Equal("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", XdsTypeUrls.Secret);
    }
}
