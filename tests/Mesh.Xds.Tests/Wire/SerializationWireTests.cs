using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Mesh.Xds.Tests.Wire;

/// <summary>The reverse direction: what our generated classes write, byte by byte, against Envoy's field numbers.</summary>
public class SerializationWireTests
{
    [Fact]
    public void ToByteArray_RingHashEdsCluster_WritesEnvoyTags()
    {
        var cluster = new Cluster
        {
            Name = "a",
            Type = Cluster.Types.DiscoveryType.Eds,
            LbPolicy = Cluster.Types.LbPolicy.RingHash,
            RingHashLbConfig = new Cluster.Types.RingHashLbConfig { MinimumRingSize = 1024 },
        };

        var expected = Convert.FromHexString(
            "0A0161" +        // name (1, LEN) "a"
            "1003" +          // type (2, VARINT) EDS = 3
            "3002" +          // lb_policy (6, VARINT) RING_HASH = 2
            "BA0105" +        // ring_hash_lb_config (23, LEN): tag 23 << 3 | 2 = 186 = BA 01, 5 bytes
            "0A03" +          //   minimum_ring_size (1, LEN) UInt64Value, 3 bytes
            "088008");        //     value (1, VARINT) 1024

        Assert.Equal(expected, cluster.ToByteArray());
    }

    [Fact]
    public void ToByteArray_HttpConnectionManagerOverAdsRds_WritesEnvoyTags()
    {
        var manager = new HttpConnectionManager
        {
            CodecType = HttpConnectionManager.Types.CodecType.Http2,
            StatPrefix = "s",
            Rds = new Rds { ConfigSource = new ConfigSource { Ads = new AggregatedConfigSource() }, RouteConfigName = "r" },
            StreamIdleTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(5)),
        };

        var expected = Convert.FromHexString(
            "0802" +          // codec_type (1, VARINT) HTTP2 = 2
            "120173" +        // stat_prefix (2, LEN) "s"
            "1A07" +          // rds (3, LEN), 7 bytes
            "0A02" +          //   config_source (1, LEN), 2 bytes
            "1A00" +          //     ads (3, LEN), empty
            "120172" +        //   route_config_name (2, LEN) "r"
            "C20102" +        // stream_idle_timeout (24, LEN): tag 24 << 3 | 2 = 194 = C2 01, 2 bytes
            "0805");          //   seconds (1, VARINT) 5

        Assert.Equal(expected, manager.ToByteArray());
    }

    [Fact]
    public void ToByteArray_LbEndpoint_WritesEnvoyTags()
    {
        var endpoint = new LbEndpoint
        {
            Endpoint = new Endpoint
            {
                Address = new Address { SocketAddress = new SocketAddress { Address = "h", PortValue = 80 } },
            },
            HealthStatus = HealthStatus.Healthy,
            LoadBalancingWeight = 3,
        };

        var expected = Convert.FromHexString(
            "0A09" +          // endpoint (1, LEN), 9 bytes
            "0A07" +          //   address (1, LEN), 7 bytes
            "0A05" +          //     socket_address (1, LEN), 5 bytes
            "120168" +        //       address (2, LEN) "h"
            "1850" +          //       port_value (3, VARINT) 80
            "1001" +          // health_status (2, VARINT) HEALTHY = 1
            "22020803");      // load_balancing_weight (4, LEN) UInt32Value { value (1) = 3 }

        Assert.Equal(expected, endpoint.ToByteArray());
    }
}
