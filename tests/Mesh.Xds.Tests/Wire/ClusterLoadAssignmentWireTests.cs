using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Type.V3;

namespace Mesh.Xds.Tests.Wire;

public class ClusterLoadAssignmentWireTests
{
    [Fact]
    public void ParseFrom_TwoLocalitiesAtTwoPriorities_ReadsEveryField()
    {
        // envoy.config.endpoint.v3.LbEndpoint
        static Action<WireWriter> LbEndpointOf(string ip, uint port, ulong health, ulong weight) => e => e
            .Message(1, ep => ep                                     // endpoint
                .Message(1, a => a                                   //   address
                    .Message(1, sa => sa                             //     socket_address
                        .String(2, ip)                               //       address
                        .Varint(3, port)))                           //       port_value
                .String(3, "reviews-" + ip))                         //   hostname
            .Varint(2, health)                                       // health_status
            .UInt(4, weight);                                        // load_balancing_weight

        // envoy.config.endpoint.v3.ClusterLoadAssignment
        var bytes = WireWriter.Build(w => w
            .String(1, "outbound|9080|v1|reviews.default.svc.cluster.local") // cluster_name
            .Message(2, l => l                                       // endpoints[0] (LocalityLbEndpoints)
                .Message(1, loc => loc                               //   locality
                    .String(1, "europe-west1")                       //     region
                    .String(2, "europe-west1-b")                     //     zone
                    .String(3, "rack-7"))                            //     sub_zone
                .Message(2, LbEndpointOf("10.0.0.1", 9080, 1, 3))      //   lb_endpoints[0]: HEALTHY, weight 3
                .Message(2, LbEndpointOf("10.0.0.2", 9080, 3, 1))      //   lb_endpoints[1]: DRAINING, weight 1
                .UInt(3, 70))                                        //   load_balancing_weight
            .Message(2, l => l                                       // endpoints[1]
                .Message(1, loc => loc.String(1, "europe-west4").String(2, "europe-west4-a")) // locality
                .Message(2, e => e                                   //   lb_endpoints[0]
                    .Message(1, ep => ep.Message(1, a => a.Message(1, sa => sa.String(2, "10.1.0.9").Varint(3, 9443)))) // endpoint.address
                    .Varint(2, 5)                                    //     health_status = DEGRADED
                    .Message(3, md => md                             //     metadata
                        .MapEntry(1, "envoy.lb", st => st            //       filter_metadata["envoy.lb"] (Struct)
                            .MapEntry(1, "version", v => v.String(3, "v2")))) // fields["version"].string_value
                    .UInt(4, 2))                                     //     load_balancing_weight
                .UInt(3, 30)                                         //   load_balancing_weight
                .Varint(5, 1))                                       //   priority
            .Message(4, p => p                                       // policy
                .Message(2, d => d                                   //   drop_overloads[0]
                    .String(1, "throttle")                           //     category
                    .Message(2, fp => fp.Varint(1, 5)))              //     drop_percentage: 5 / HUNDRED
                .UInt(3, 140)                                        //   overprovisioning_factor
                .Duration(4, 60)                                     //   endpoint_stale_after
                .Bool(6, true)));                                    //   weighted_priority_health

        var assignment = ClusterLoadAssignment.Parser.ParseFrom(bytes);
        WireAssert.ParseKnown(ClusterLoadAssignment.Parser, bytes);

        Assert.Equal("outbound|9080|v1|reviews.default.svc.cluster.local", assignment.ClusterName);
        Assert.Equal(2, assignment.Endpoints.Count);

        var primary = assignment.Endpoints[0];
        Assert.Equal("europe-west1", primary.Locality.Region);
        Assert.Equal("europe-west1-b", primary.Locality.Zone);
        Assert.Equal("rack-7", primary.Locality.SubZone);
        Assert.Equal(70u, primary.LoadBalancingWeight);
        Assert.Equal(0u, primary.Priority);
        Assert.Equal(2, primary.LbEndpoints.Count);
        var first = primary.LbEndpoints[0];
        Assert.Equal(LbEndpoint.HostIdentifierOneofCase.Endpoint, first.HostIdentifierCase);
        Assert.Equal("10.0.0.1", first.Endpoint.Address.SocketAddress.Address);
        Assert.Equal(9080u, first.Endpoint.Address.SocketAddress.PortValue);
        Assert.Equal(SocketAddress.Types.Protocol.Tcp, first.Endpoint.Address.SocketAddress.Protocol);
        Assert.Equal("reviews-10.0.0.1", first.Endpoint.Hostname);
        Assert.Equal(HealthStatus.Healthy, first.HealthStatus);
        Assert.Equal(3u, first.LoadBalancingWeight);
        var second = primary.LbEndpoints[1];
        Assert.Equal("10.0.0.2", second.Endpoint.Address.SocketAddress.Address);
        Assert.Equal(HealthStatus.Draining, second.HealthStatus);
        Assert.Equal(1u, second.LoadBalancingWeight);

        var failover = assignment.Endpoints[1];
        Assert.Equal("europe-west4", failover.Locality.Region);
        Assert.Equal("europe-west4-a", failover.Locality.Zone);
        Assert.Equal(30u, failover.LoadBalancingWeight);
        Assert.Equal(1u, failover.Priority);
        var degraded = Assert.Single(failover.LbEndpoints);
        Assert.Equal("10.1.0.9", degraded.Endpoint.Address.SocketAddress.Address);
        Assert.Equal(9443u, degraded.Endpoint.Address.SocketAddress.PortValue);
        Assert.Equal(HealthStatus.Degraded, degraded.HealthStatus);
        Assert.Equal(2u, degraded.LoadBalancingWeight);
        Assert.Equal("v2", degraded.Metadata.FilterMetadata["envoy.lb"].Fields["version"].StringValue);

        var drop = Assert.Single(assignment.Policy.DropOverloads);
        Assert.Equal("throttle", drop.Category);
        Assert.Equal(5u, drop.DropPercentage.Numerator);
        Assert.Equal(FractionalPercent.Types.DenominatorType.Hundred, drop.DropPercentage.Denominator);
        Assert.Equal(140u, assignment.Policy.OverprovisioningFactor);
        Assert.Equal(TimeSpan.FromMinutes(1), assignment.Policy.EndpointStaleAfter.ToTimeSpan());
        Assert.True(assignment.Policy.WeightedPriorityHealth);
    }
}
