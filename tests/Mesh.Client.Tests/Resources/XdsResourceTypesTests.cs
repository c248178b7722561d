using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Resources;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Client.Tests.Resources;

/// <summary>Validation of the resources the client accepts (A27, A28, A39, A44, A50): what is NACKed and why.</summary>
public class XdsResourceTypesTests
{
    private static Hcm.HttpFilter Filter(string name, Google.Protobuf.IMessage config, bool optional = false) =>
        new() { Name = name, TypedConfig = Any.Pack(config), IsOptional = optional };

    private static Listener ListenerWith(params Hcm.HttpFilter[] filters)
    {
        var hcm = new Hcm.HttpConnectionManager { Rds = new Hcm.Rds { ConfigSource = new ConfigSource { Ads = new AggregatedConfigSource() }, RouteConfigName = "r" } };
        hcm.HttpFilters.AddRange(filters);
        return new Listener { Name = "l", ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } };
    }

    private static readonly Hcm.HttpFilter Router = Filter("router", new Envoy.Extensions.Filters.Http.Router.V3.Router());

    [Fact]
    public void DecodeListener_UnknownRequiredFilter_IsRejectedNamingIt()
    {
        var result = XdsResourceTypes.DecodeListener(ListenerWith(Filter("mystery", new Duration()), Router));

        Assert.Equal("l", result.Name);
        Assert.Contains("http_filters[0]", result.Error, StringComparison.Ordinal);
        Assert.Contains("mystery", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeListener_UnknownOptionalFilter_IsSkipped()
    {
        var result = XdsResourceTypes.DecodeListener(ListenerWith(Filter("mystery", new Duration(), optional: true), Router));

        var listener = Assert.IsType<ListenerResource>(result.Resource);
        Assert.Equal(["router"], listener.HttpFilters.Select(f => f.Name));
    }

    [Fact]
    public void DecodeListener_RouterNotLast_IsRejected()
    {
        var fault = Filter("fault", new Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault());

        Assert.Contains("router", XdsResourceTypes.DecodeListener(ListenerWith(Router, fault)).Error, StringComparison.Ordinal);
        Assert.Contains("router", XdsResourceTypes.DecodeListener(ListenerWith(fault)).Error, StringComparison.Ordinal);
        Assert.Null(XdsResourceTypes.DecodeListener(ListenerWith(fault, Router)).Error);
    }

    [Fact]
    public void DecodeRouteConfig_RetryPolicy_FollowsA44()
    {
        var config = new RouteConfiguration
        {
            Name = "r",
            VirtualHosts =
            {
                new VirtualHost
                {
                    Domains = { "*" },
                    Routes =
                    {
                        new Route
                        {
                            Match = new RouteMatch { Prefix = "/" },
                            Route_ = new RouteAction
                            {
                                Cluster = "c",
                                RetryPolicy = new RetryPolicy { RetryOn = "unavailable,cancelled,5xx,retriable-status-codes,bogus", NumRetries = 9, RetriableStatusCodes = { 503, 429 } },
                            },
                        },
                    },
                },
            },
        };

        var route = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0].Routes[0];

        var retry = route.Action!.Retry!;
        Assert.Equal(5, retry.MaxAttempts); // capped
        Assert.Equal([Grpc.Core.StatusCode.Cancelled, Grpc.Core.StatusCode.Unavailable], retry.RetryOn.Order());
        Assert.Equal(TimeSpan.FromMilliseconds(25), retry.BaseBackoff);
        Assert.Equal(TimeSpan.FromMilliseconds(250), retry.MaxBackoff);
        Assert.Equal(["5xx", "retriable-status-codes"], retry.HttpConditions.Order(StringComparer.Ordinal)); // for the HttpClient path
        Assert.Equal([429, 503], retry.RetriableStatusCodes.Order());
    }

    [Fact]
    public void DecodeCluster_UnsupportedPolicyOrType_IsRejected()
    {
        var maglev = new Cluster { Name = "c", Type = Cluster.Types.DiscoveryType.Eds, LbPolicy = Cluster.Types.LbPolicy.Maglev, EdsClusterConfig = new Cluster.Types.EdsClusterConfig { EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource() } } };
        var dns = new Cluster { Name = "d", Type = Cluster.Types.DiscoveryType.OriginalDst };

        Assert.Contains("lb_policy", XdsResourceTypes.DecodeCluster(maglev).Error, StringComparison.Ordinal);
        Assert.Contains("type", XdsResourceTypes.DecodeCluster(dns).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeCluster_OutlierAndCircuitBreaker_AreRead()
    {
        var cluster = new Cluster
        {
            Name = "c",
            Type = Cluster.Types.DiscoveryType.Eds,
            EdsClusterConfig = new Cluster.Types.EdsClusterConfig { EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource() } },
            CircuitBreakers = new CircuitBreakers { Thresholds = { new CircuitBreakers.Types.Thresholds { MaxRequests = 10 } } },
            OutlierDetection = new Envoy.Config.Cluster.V3.OutlierDetection { Consecutive5Xx = 3, EnforcingSuccessRate = 0, Interval = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) },
        };

        var decoded = Assert.IsType<ClusterResource>(XdsResourceTypes.DecodeCluster(cluster).Resource);

        Assert.Equal(10u, decoded.MaxRequests);
        Assert.Equal(3u, decoded.Outlier!.Consecutive5xx!.Threshold);
        Assert.Null(decoded.Outlier.SuccessRateEjection);
        Assert.Equal("c", decoded.EdsServiceName);
    }

    [Fact]
    public void DecodeEndpoints_UnhealthyDropped_ZeroWeightLocalitySkipped_PrioritiesMustBeContiguous()
    {
        static LbEndpoint Endpoint(string ip, HealthStatus health) => new()
        {
            HealthStatus = health,
            Endpoint = new Envoy.Config.Endpoint.V3.Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = ip, PortValue = 80 } } },
        };

        var assignment = new ClusterLoadAssignment
        {
            ClusterName = "c",
            Endpoints =
            {
                new LocalityLbEndpoints { Locality = new Locality { Zone = "a" }, LoadBalancingWeight = 1, LbEndpoints = { Endpoint("10.0.0.1", HealthStatus.Healthy), Endpoint("10.0.0.2", HealthStatus.Unhealthy), Endpoint("10.0.0.3", HealthStatus.Unknown), Endpoint("10.0.0.4", HealthStatus.Draining) } },
                new LocalityLbEndpoints { Locality = new Locality { Zone = "b" }, LoadBalancingWeight = 0, LbEndpoints = { Endpoint("10.0.0.5", HealthStatus.Healthy) } },
            },
        };

        var decoded = Assert.IsType<EndpointsResource>(XdsResourceTypes.DecodeEndpoints(assignment).Resource);
        Assert.Equal(["10.0.0.1", "10.0.0.3"], Assert.Single(decoded.Localities).Endpoints.Select(e => e.Host));

        assignment.Endpoints[1].LoadBalancingWeight = 1;
        assignment.Endpoints[1].Priority = 2;
        Assert.Contains("contiguous", XdsResourceTypes.DecodeEndpoints(assignment).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeRouteConfig_FilterOverrides_AreKeptPerRouteAndPerVirtualHost()
    {
        var fault = Any.Pack(new Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault());
        var vhost = new VirtualHost { Domains = { "*" }, TypedPerFilterConfig = { ["envoy.filters.http.fault"] = fault } };
        vhost.Routes.Add(new Route { Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction { Cluster = "c" }, TypedPerFilterConfig = { ["envoy.filters.http.fault"] = fault } });
        var config = new RouteConfiguration { Name = "r", VirtualHosts = { vhost } };

        var decoded = Assert.IsType<RouteConfigResource>(XdsResourceTypes.DecodeRouteConfig(config).Resource).VirtualHosts[0];

        Assert.True(decoded.FilterOverrides.ContainsKey("envoy.filters.http.fault"));
        Assert.True(decoded.Routes[0].FilterOverrides.ContainsKey("envoy.filters.http.fault"));
    }
}
