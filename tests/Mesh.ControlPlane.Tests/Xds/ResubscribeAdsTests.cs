using Envoy.Config.Listener.V3;
using Envoy.Service.Discovery.V3;
using Mesh.Testing;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Xds;

/// <summary>
/// A name dropped from a subscription and added back, with nothing changed on the server: a new subscription always
/// gets a response (gRFC A27, the xDS protocol), on both SotW and Delta streams.
/// </summary>
public class ResubscribeAdsTests
{
    private const string Listener = "reviews.default.svc.cluster.local:9080";
    private const string V1 = "outbound|9080|v1|reviews.default.svc.cluster.local";

    [Fact]
    public async Task Sotw_ListenerDroppedThenAddedBack_SentAgainAtSameVersion()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);
        await client.SendAsync(XdsTypeUrls.Listener, [Listener]);
        var first = await client.ReceiveAsync(XdsTypeUrls.Listener);
        await client.AckAsync(first, [Listener]);

        // Drop it: a listener response carries the whole (now empty) state.
        await client.SendAsync(XdsTypeUrls.Listener, [], first.VersionInfo, first.Nonce);
        var empty = await client.ReceiveAsync(XdsTypeUrls.Listener);
        Assert.Empty(empty.Resources);
        await client.AckAsync(empty, []);

        await client.SendAsync(XdsTypeUrls.Listener, [Listener], empty.VersionInfo, empty.Nonce);
        var again = await client.ReceiveAsync(XdsTypeUrls.Listener, timeout: TimeSpan.FromSeconds(5));

        Assert.Equal(first.VersionInfo, again.VersionInfo);
        Assert.Equal(Listener, Assert.Single(again.Resources).Unpack<Listener>().Name);
    }

    [Fact]
    public async Task Sotw_EndpointsDroppedThenAddedBack_SentAgain()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new AdsTestClient(cp.XdsAddress);
        await client.SendAsync(XdsTypeUrls.ClusterLoadAssignment, [V1]);
        var first = await client.ReceiveAsync(XdsTypeUrls.ClusterLoadAssignment);
        await client.AckAsync(first, [V1]);

        await client.SendAsync(XdsTypeUrls.ClusterLoadAssignment, [], first.VersionInfo, first.Nonce);
        Assert.Null(await client.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));
        await client.SendAsync(XdsTypeUrls.ClusterLoadAssignment, [V1], first.VersionInfo, first.Nonce);
        var again = await client.ReceiveAsync(XdsTypeUrls.ClusterLoadAssignment, timeout: TimeSpan.FromSeconds(5));

        Assert.Equal(V1, Assert.Single(again.Resources).Unpack<Envoy.Config.Endpoint.V3.ClusterLoadAssignment>().ClusterName);
    }

    [Fact]
    public async Task Delta_ListenerUnsubscribedThenSubscribedAgain_SentAgain()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var client = new DeltaAdsTestClient(cp.XdsAddress);
        var subscribe = new DeltaDiscoveryRequest { TypeUrl = XdsTypeUrls.Listener };
        subscribe.ResourceNamesSubscribe.Add(Listener);
        await client.SendAsync(subscribe);
        var first = await client.ReceiveAsync();
        await client.AckAsync(first);
        Assert.Equal(Listener, Assert.Single(first.Resources).Name);

        var unsubscribe = new DeltaDiscoveryRequest { TypeUrl = XdsTypeUrls.Listener };
        unsubscribe.ResourceNamesUnsubscribe.Add(Listener);
        await client.SendAsync(unsubscribe);
        Assert.Null(await client.TryReceiveAsync(TimeSpan.FromMilliseconds(200)));

        await client.SendAsync(subscribe.Clone());
        var again = await client.ReceiveAsync(TimeSpan.FromSeconds(5));

        var resource = Assert.Single(again.Resources);
        Assert.Equal(Listener, resource.Name);
        Assert.Equal(Assert.Single(first.Resources).Version, resource.Version);
    }
}
