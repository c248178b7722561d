using Envoy.Admin.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Mesh.Client.Bootstrap;
using Mesh.Client.Xds;
using Mesh.Testing;
using Mesh.Xds;
using Xunit.Abstractions;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.Client.Tests.Xds;

/// <summary>The xDS client against the real Mesh control plane on loopback, with real time.</summary>
public class XdsClientControlPlaneTests(ITestOutputHelper output)
{
    private const string ServiceEntry = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: reviews
          namespace: default
        spec:
          hosts: [reviews.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 9080, name: grpc, protocol: GRPC}
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: 20001}, labels: {app: reviews, version: v1}}
          - {address: 127.0.0.2, ports: {grpc: 20002}, labels: {app: reviews, version: v2}}
        """;

    private const string DestinationRule = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews
        spec:
          host: reviews
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        """;

    private static readonly XdsResourceType Listeners = new()
    {
        TypeUrl = XdsTypeUrls.Listener,
        AllResourcesRequiredInSotW = true,
        Decode = any => any.Unpack<Listener>() is var l ? XdsDecodeResult.Success(l.Name, l) : default,
    };

    private static readonly XdsResourceType Routes = new()
    {
        TypeUrl = XdsTypeUrls.RouteConfiguration,
        AllResourcesRequiredInSotW = false,
        Decode = any => any.Unpack<RouteConfiguration>() is var r ? XdsDecodeResult.Success(r.Name, r) : default,
    };

    private static string VirtualService(int v1, int v2) => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
        spec:
          hosts: [reviews]
          http:
          - route:
            - {destination: {host: reviews, subset: v1}, weight: {{v1}}}
            - {destination: {host: reviews, subset: v2}, weight: {{v2}}}
        """;

    [Fact]
    public async Task Watch_ListenerOnRealControlPlane_ReceivesItAndFollowsYamlChanges()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry,
            ["dr.yaml"] = DestinationRule,
            ["vs.yaml"] = VirtualService(80, 20),
        });
        var bootstrap = XdsBootstrap.Parse($$"""
            {
              "xds_servers": [{ "server_uri": "{{cp.XdsAddress.Host}}:{{cp.XdsAddress.Port}}", "channel_creds": [{ "type": "insecure" }] }],
              "node": { "id": "xds-client-e2e", "cluster": "productpage", "metadata": { "NAMESPACE": "default" } }
            }
            """, "test");
        await using var client = new XdsClient(bootstrap, TimeProvider.System, XdsClientHarness.CreateLoggerFactory(output));
        var listenerWatcher = new RecordingWatcher();
        var routeWatcher = new RecordingWatcher();

        // The short name resolves in the client's namespace.
        client.Watch(Listeners, "reviews:9080", listenerWatcher);
        var listener = await listenerWatcher.NextChangedAsync<Listener>();
        Assert.Equal("reviews:9080", listener.Name);
        var routeName = listener.ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>().Rds.RouteConfigName;
        Assert.Equal("reviews.default.svc.cluster.local:9080", routeName);

        client.Watch(Routes, routeName, routeWatcher);
        var routes = await routeWatcher.NextChangedAsync<RouteConfiguration>();
        Assert.Equal([80u, 20u], Weights(routes));

        // Both types are ACKed, as the control plane sees it too.
        await WaitForAsync(async () =>
        {
            var syncz = await cp.GetJsonAsync("/debug/syncz");
            var types = syncz.AsArray().SingleOrDefault(c => (string?)c!["nodeId"] == "xds-client-e2e")?["types"]?.AsArray();
            return types is { Count: 2 } && types.All(t => (string?)t!["status"] == "ACKED");
        });

        // A YAML edit reaches the watcher of the route (perhaps after an intermediate version, as the control
        // plane may read the file while it is being written).
        await cp.WriteFileAsync("vs.yaml", VirtualService(50, 50));
        do
        {
            routes = await routeWatcher.NextChangedAsync<RouteConfiguration>();
        }
        while (!Weights(routes).SequenceEqual([50u, 50u]));

        // Removing the service removes the listener: a listener response without it means it was deleted.
        cp.DeleteFile("vs.yaml");
        cp.DeleteFile("dr.yaml");
        cp.DeleteFile("se.yaml");
        await listenerWatcher.NextAsync(WatchEventKind.DoesNotExist);

        var status = client.GetStatus();
        Assert.Equal(ClientResourceStatus.DoesNotExist, status.Find(XdsTypeUrls.Listener, "reviews:9080")!.Status);
        Assert.Equal(ClientResourceStatus.Acked, status.Find(XdsTypeUrls.RouteConfiguration, routeName)!.Status);
        Assert.Equal(0, status.Counters.Nacks);
        Assert.Equal(0, status.Counters.StreamsFailed);
        Assert.Equal(XdsConnectionState.Connected, status.Connection.State);
    }

    private static uint[] Weights(RouteConfiguration routes) =>
        routes.VirtualHosts.Single().Routes.Single().Route_.WeightedClusters is { } split
            ? [.. split.Clusters.Select(c => c.Weight!.Value)]
            : [];

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
