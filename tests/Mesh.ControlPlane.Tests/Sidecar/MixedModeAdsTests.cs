using Envoy.Config.Endpoint.V3;
using Envoy.Service.Discovery.V3;
using Mesh.Testing;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Sidecar;

/// <summary>An Envoy sidecar and a proxyless client on one control plane at once, over real ADS streams.</summary>
public class MixedModeAdsTests
{
    private const string Cluster = "outbound|9080||reviews.default.svc.cluster.local";
    private const string EnvoyNodeId = "sidecar~127.0.0.9~productpage-v1-abc.default~default.svc.cluster.local";

    [Fact]
    public async Task Ads_EnvoyAndProxylessNodes_GetSameClustersAndEndpointsAndTheSameEndpointChange()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var envoy = new AdsTestClient(cp.XdsAddress, nodeId: EnvoyNodeId);
        await using var proxyless = new AdsTestClient(cp.XdsAddress, nodeId: "productpage-v1-abc.default");

        // Envoy subscribes to every cluster (wildcard); the proxyless client names the ones its routes need.
        await envoy.SendAsync(XdsTypeUrls.Cluster, []);
        await proxyless.SendAsync(XdsTypeUrls.Cluster, [Cluster]);
        var envoyClusters = await envoy.ReceiveAsync(XdsTypeUrls.Cluster);
        var proxylessClusters = await proxyless.ReceiveAsync(XdsTypeUrls.Cluster);
        Assert.Equal(proxylessClusters.VersionInfo, envoyClusters.VersionInfo);
        var shared = Assert.Single(proxylessClusters.Resources);
        Assert.Contains(envoyClusters.Resources, r => r.Equals(shared)); // byte-for-byte the same resource
        Assert.Contains(envoyClusters.Resources, r => r.Unpack<Envoy.Config.Cluster.V3.Cluster>().Name == "BlackHoleCluster");
        await envoy.AckAsync(envoyClusters, []);
        await proxyless.AckAsync(proxylessClusters, [Cluster]);

        await envoy.SendAsync(XdsTypeUrls.ClusterLoadAssignment, [Cluster]);
        await proxyless.SendAsync(XdsTypeUrls.ClusterLoadAssignment, [Cluster]);
        var envoyEndpoints = await envoy.ReceiveAsync(XdsTypeUrls.ClusterLoadAssignment);
        var proxylessEndpoints = await proxyless.ReceiveAsync(XdsTypeUrls.ClusterLoadAssignment);
        Assert.Equal(proxylessEndpoints.VersionInfo, envoyEndpoints.VersionInfo);
        Assert.Equal(proxylessEndpoints.Resources, envoyEndpoints.Resources);
        await envoy.AckAsync(envoyEndpoints, [Cluster]);
        await proxyless.AckAsync(proxylessEndpoints, [Cluster]);

        await cp.WriteFileAsync("reviews-se.yaml", TestYaml.ReviewsServiceEntry.Replace("127.0.0.2", "127.0.0.3", StringComparison.Ordinal));
        var envoyUpdate = await ReceiveWithAddressAsync(envoy, "127.0.0.3");
        var proxylessUpdate = await ReceiveWithAddressAsync(proxyless, "127.0.0.3");
        Assert.Equal(proxylessUpdate.VersionInfo, envoyUpdate.VersionInfo);
        Assert.Equal(proxylessUpdate.Resources, envoyUpdate.Resources);
    }

    [Fact]
    public async Task ConfigDump_EnvoyNode_InEnvoyAdminShape()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var envoy = new AdsTestClient(cp.XdsAddress, nodeId: EnvoyNodeId);
        await envoy.SendAsync(XdsTypeUrls.Cluster, []);
        var clusters = await envoy.ReceiveAsync(XdsTypeUrls.Cluster);
        await envoy.AckAsync(clusters, []);
        await envoy.SendAsync(XdsTypeUrls.Listener, []);
        var listeners = await envoy.ReceiveAsync(XdsTypeUrls.Listener);
        await envoy.AckAsync(listeners, []);

        var dump = await cp.GetJsonAsync("/debug/config_dump?node=" + Uri.EscapeDataString(EnvoyNodeId));
        var configs = dump["configs"]!.AsArray();
        Assert.Equal(
            ["ClustersConfigDump", "EndpointsConfigDump", "ListenersConfigDump", "RoutesConfigDump"],
            configs.Select(c => c!["@type"]!.GetValue<string>().Split('.')[^1]));
        var listenerNames = configs[2]!["dynamic_listeners"]!.AsArray().Select(l => l!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("virtualOutbound", listenerNames);
        Assert.Contains("virtualInbound", listenerNames);
        var firstListener = configs[2]!["dynamic_listeners"]![0]!["active_state"]!;
        Assert.Equal(listeners.VersionInfo, firstListener["version_info"]!.GetValue<string>());
        Assert.Equal("type.googleapis.com/envoy.config.listener.v3.Listener", firstListener["listener"]!["@type"]!.GetValue<string>());
        Assert.Contains(configs[0]!["dynamic_active_clusters"]!.AsArray(), c => c!["cluster"]!["name"]!.GetValue<string>() == "BlackHoleCluster");
    }

    private static async Task<DiscoveryResponse> ReceiveWithAddressAsync(AdsTestClient client, string address)
    {
        for (var i = 0; i < 20; i++)
        {
            var response = await client.ReceiveAsync(XdsTypeUrls.ClusterLoadAssignment, timeout: TimeSpan.FromSeconds(15));
            var assignment = response.Resources[0].Unpack<ClusterLoadAssignment>();
            if (assignment.Endpoints.SelectMany(g => g.LbEndpoints).Any(e => e.Endpoint.Address.SocketAddress.Address == address))
            {
                return response;
            }

            await client.AckAsync(response, [Cluster]);
        }

        throw new TimeoutException("the endpoint change never arrived");
    }
}
