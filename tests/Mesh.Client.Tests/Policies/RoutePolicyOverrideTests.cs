using System.Collections.Immutable;
using Envoy.Extensions.Filters.Common.Fault.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Type.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mesh.Client.Policies;
using Mesh.Client.Resources;
using Mesh.Client.Routing;
using Mesh.Xds;

namespace Mesh.Client.Tests.Policies;

public sealed class RoutePolicyOverrideTests
{
    private sealed class NoHeaders : IRequestHeaders
    {
        public string? Get(string name) => null;
    }

    private static Any Abort(uint status) => Any.Pack(new HTTPFault { Abort = new FaultAbort { GrpcStatus = status, Percentage = new FractionalPercent { Numerator = 100 } } });

    private static ImmutableDictionary<string, Any> Fault(Any config) => ImmutableDictionary<string, Any>.Empty.Add("fault", config);

    private static StatusCode? AbortOf(RoutePolicy policy) => policy.Fault?.DrawAbort(new NoHeaders())?.StatusCode;

    [Fact]
    public void Compile_WeightedClusterFaultOverride_WinsOverRouteAndVirtualHost()
    {
        var disabled = Any.Pack(new Envoy.Config.Route.V3.FilterConfig { Disabled = true });
        var action = new RouteActionResource(
            [
                new WeightedClusterResource("plain", 1),
                new WeightedClusterResource("own", 1) { FilterOverrides = Fault(Abort(7)) },
                new WeightedClusterResource("off", 1) { FilterOverrides = Fault(disabled) },
            ],
            [],
            null);
        var route = new RouteResource("r", RouteMatcher.All, action) { FilterOverrides = Fault(Abort(14)) };
        var host = new VirtualHostResource("vh", ["*"], [route]) { FilterOverrides = Fault(Abort(13)) };
        var config = new XdsConfig("l", host, ImmutableDictionary<string, ClusterConfig>.Empty)
        {
            HttpFilters = [new HttpFilterResource("fault", XdsTypeUrls.HttpFault, Any.Pack(new HTTPFault()), IsOptional: false)],
        };

        var policy = RoutePolicy.Compile(config, route, TimeProvider.System);

        Assert.Equal(StatusCode.Unavailable, AbortOf(policy));
        Assert.Same(policy, policy.ForCluster("plain"));
        Assert.Equal(StatusCode.Unavailable, AbortOf(policy.ForCluster("plain")));
        Assert.Equal(StatusCode.PermissionDenied, AbortOf(policy.ForCluster("own")));
        Assert.Null(policy.ForCluster("off").Fault);
        Assert.True(policy.ForCluster("off").IsEmpty);
    }

    [Fact]
    public void Compile_WeightedClusterOverride_AppliesWhenTheRouteHasNoFault()
    {
        var action = new RouteActionResource([new WeightedClusterResource("a", 1), new WeightedClusterResource("b", 1) { FilterOverrides = Fault(Abort(7)) }], [], null);
        var route = new RouteResource("r", RouteMatcher.All, action);
        var config = new XdsConfig("l", new VirtualHostResource("vh", ["*"], [route]), ImmutableDictionary<string, ClusterConfig>.Empty)
        {
            HttpFilters = [new HttpFilterResource("fault", XdsTypeUrls.HttpFault, Any.Pack(new HTTPFault()), IsOptional: false)],
        };

        var policy = RoutePolicy.Compile(config, route, TimeProvider.System);

        Assert.Null(AbortOf(policy.ForCluster("a")));
        Assert.False(policy.ForCluster("b").IsEmpty);
        Assert.Equal(StatusCode.PermissionDenied, AbortOf(policy.ForCluster("b")));
    }
}
