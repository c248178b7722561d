using Mesh.ControlPlane.Xds;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Xds;

/// <summary>
/// Streams with the same subscription share it (one copy of the names, one resolution per snapshot), and what it
/// resolves to still depends on who asks: short names resolve in each client's own namespace.
/// </summary>
public class AdsSharingTests
{
    private static XdsResourceCache Cache(TestControlPlane cp) => cp.Services.GetRequiredService<XdsResourceCache>();

    [Fact]
    public async Task Streams_WithTheSameNames_ShareOneSubscription_ReleasedWhenTheyEnd()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        var clients = new List<AdsTestClient>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var client = new AdsTestClient(cp.XdsAddress, nodeId: "replica-" + i);
                clients.Add(client);
                await client.SendAsync(XdsTypeUrls.Listener, ["reviews:9080", "reviews.default.svc.cluster.local:9080"]);
                var response = await client.ReceiveAsync(XdsTypeUrls.Listener);
                Assert.Equal(2, response.Resources.Count);
            }

            var other = new AdsTestClient(cp.XdsAddress, nodeId: "other-workload");
            clients.Add(other);
            await other.SendAsync(XdsTypeUrls.Listener, ["reviews.default.svc.cluster.local:9080"]);
            Assert.Single((await other.ReceiveAsync(XdsTypeUrls.Listener)).Resources);

            Assert.Equal(2, Cache(cp).Subscriptions.Count);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Cache(cp).Connections.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }

        Assert.Empty(Cache(cp).Connections);
        Assert.Equal(0, Cache(cp).Subscriptions.Count);
    }

    [Fact]
    public async Task SharedSubscription_ShortName_ResolvesInEachClientsNamespace()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20));
        await using var inDefault = new AdsTestClient(cp.XdsAddress, nodeId: "in-default", @namespace: "default");
        await using var inOther = new AdsTestClient(cp.XdsAddress, nodeId: "in-other", @namespace: "other");

        await inDefault.SendAsync(XdsTypeUrls.Listener, ["reviews:9080"]);
        var found = await inDefault.ReceiveAsync(XdsTypeUrls.Listener);
        await inOther.SendAsync(XdsTypeUrls.Listener, ["reviews:9080"]);
        var notFound = await inOther.ReceiveAsync(XdsTypeUrls.Listener);

        Assert.Single(found.Resources);
        Assert.Empty(notFound.Resources); // reviews.other does not exist; the default client's answer is not reused.
        Assert.Equal(1, Cache(cp).Subscriptions.Count);
    }
}
