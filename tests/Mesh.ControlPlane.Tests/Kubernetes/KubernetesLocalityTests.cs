using Envoy.Config.Endpoint.V3;
using Mesh.ControlPlane.Model;
using Mesh.Testing;
using Mesh.Testing.Kubernetes;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Kubernetes;

/// <summary>Endpoint locality from the Node each Pod runs on, read through the fake API server and served in EDS.</summary>
public sealed class KubernetesLocalityTests
{
    private const string Cluster = "outbound|9080||reviews.default.svc.cluster.local";

    private static MeshSnapshot Snapshot(KubernetesTestControlPlane cp) => cp.Services.GetRequiredService<MeshSnapshotProvider>().Current;

    private static Dictionary<string, string> Localities(ClusterLoadAssignment assignment)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in assignment.Endpoints)
        {
            foreach (var endpoint in group.LbEndpoints)
            {
                result[endpoint.Endpoint.Address.SocketAddress.Address] = $"{group.Locality?.Region}/{group.Locality?.Zone}/{group.Locality?.SubZone}";
            }
        }

        return result;
    }

    private static async Task<ClusterLoadAssignment> ReceiveAssignmentAsync(AdsTestClient client, Func<ClusterLoadAssignment, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var response = await client.ReceiveAsync(XdsTypeUrls.ClusterLoadAssignment, timeout: deadline - DateTime.UtcNow);
            await client.AckAsync(response, [Cluster]);
            var assignment = response.Resources.Select(r => r.Unpack<ClusterLoadAssignment>()).SingleOrDefault(a => a.ClusterName == Cluster);
            if (assignment is not null && until(assignment))
            {
                return assignment;
            }
        }
    }

    [Fact]
    public async Task EndpointSlice_PodsOnLabelledNodes_ClientReceivesNodeRegionAndZoneAsLocality()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Node("node-a", new Dictionary<string, string>
        {
            ["topology.kubernetes.io/region"] = "eu-west",
            ["topology.kubernetes.io/zone"] = "eu-west-1a",
            ["topology.istio.io/subzone"] = "rack-7",
        }));
        server.Store.Upsert(KubernetesObjects.Node("node-b", new Dictionary<string, string>
        {
            ["topology.kubernetes.io/region"] = "eu-west",
            ["topology.kubernetes.io/zone"] = "eu-west-1b",
        }));
        server.Store.Upsert(KubernetesObjects.Service("reviews"));
        var labels = new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v1" };
        server.Store.Upsert(KubernetesObjects.Pod("reviews-a", labels, node: "node-a"));
        server.Store.Upsert(KubernetesObjects.Pod("reviews-b", labels, node: "node-b"));
        server.Store.Upsert(KubernetesObjects.Pod("reviews-c", labels));

        // Endpoint a: the Pod's node only. Endpoint b: the slice's nodeName and zone, as the EndpointSlice controller
        // writes them. Endpoint c: a Pod on no known node has no locality.
        var slice = KubernetesObjects.EndpointSlice("reviews-1", "reviews", 9080, [("10.0.0.1", "reviews-a"), ("10.0.0.2", "reviews-b"), ("10.0.0.3", "reviews-c")]);
        slice["endpoints"]![1]!["nodeName"] = "node-b";
        slice["endpoints"]![1]!["zone"] = "eu-west-1b";
        server.Store.Upsert(slice);

        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        await using var client = new AdsTestClient(cp.XdsAddress);
        await client.SendAsync(XdsTypeUrls.ClusterLoadAssignment, [Cluster]);
        var first = await ReceiveAssignmentAsync(client, a => a.Endpoints.Sum(g => g.LbEndpoints.Count) == 3);

        var localities = Localities(first);
        Assert.Equal("eu-west/eu-west-1a/rack-7", localities["10.0.0.1"]);
        Assert.Equal("eu-west/eu-west-1b/", localities["10.0.0.2"]);
        Assert.Equal("//", localities["10.0.0.3"]);

        // A Node's status heartbeat is not a change of the model's input; a relabelled Node is.
        var version = Snapshot(cp).Version;
        server.Store.Upsert(KubernetesObjects.Node("node-b", new Dictionary<string, string>
        {
            ["topology.kubernetes.io/region"] = "eu-west",
            ["topology.kubernetes.io/zone"] = "eu-west-1b",
        }, heartbeat: "2026-01-01T00:00:10Z"));
        await Task.Delay(1000); // several debounce periods of the test control plane (50 ms quiet, 300 ms max)
        Assert.Equal(version, Snapshot(cp).Version);
        server.Store.Upsert(KubernetesObjects.Node("node-a", new Dictionary<string, string>
        {
            ["topology.kubernetes.io/region"] = "eu-central",
            ["topology.kubernetes.io/zone"] = "eu-central-1c",
        }));
        var moved = await ReceiveAssignmentAsync(client, a => Localities(a).GetValueOrDefault("10.0.0.1") == "eu-central/eu-central-1c/");
        Assert.Equal("eu-west/eu-west-1b/", Localities(moved)["10.0.0.2"]);
        Assert.Equal(version + 1, Snapshot(cp).Version);
        Assert.Contains(cp.Source.Current.Resources, r => r is { Kind: "Node", Name: "node-a" } && r.Body["status"] is null);
    }
}
