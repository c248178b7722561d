using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.Testing;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// Hand-built xDS resources for a "greeter" served by a <see cref="FakeAdsServer"/> (the tests that need what the Istio
/// translation never sends: deletions of one resource, per-filter overrides), and a responder for its stream.
/// </summary>
internal static class MeshXds
{
    public const string ListenerName = "greeter.example:50051";

    /// <summary>An API listener with an inline route configuration of <paramref name="routes"/> and the given HTTP filters before the router.</summary>
    public static Listener Listener(IEnumerable<Route> routes, params Hcm.HttpFilter[] filters)
    {
        var host = new VirtualHost { Name = "greeter", Domains = { "*" } };
        host.Routes.AddRange(routes);
        var hcm = new Hcm.HttpConnectionManager { RouteConfig = new RouteConfiguration { Name = "inline", VirtualHosts = { host } } };
        hcm.HttpFilters.AddRange(filters);
        hcm.HttpFilters.Add(new Hcm.HttpFilter { Name = "router", TypedConfig = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router()) });
        return new Listener { Name = ListenerName, ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } };
    }

    /// <summary>A route sending everything to <paramref name="cluster"/>.</summary>
    public static Route RouteTo(string cluster) => new() { Match = new RouteMatch { Prefix = "" }, Route_ = new RouteAction { Cluster = cluster } };

    /// <summary>An EDS cluster over ADS whose endpoints are the assignment named <paramref name="name"/> + "-eds".</summary>
    public static Cluster Cluster(string name) => new()
    {
        Name = name,
        Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
        EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig { EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource() }, ServiceName = name + "-eds" },
    };

    /// <summary>The endpoints of <paramref name="cluster"/>: one locality with 127.0.0.1 on each port.</summary>
    public static ClusterLoadAssignment Endpoints(string cluster, params int[] ports)
    {
        var locality = new LocalityLbEndpoints { Locality = new Locality { Zone = "z" }, LoadBalancingWeight = 1 };
        foreach (var port in ports)
        {
            locality.LbEndpoints.Add(new LbEndpoint { Endpoint = new Endpoint { Address = new Address { SocketAddress = new Envoy.Config.Core.V3.SocketAddress { Address = "127.0.0.1", PortValue = (uint)port } } } });
        }

        return new ClusterLoadAssignment { ClusterName = cluster + "-eds", Endpoints = { locality } };
    }

    /// <summary>
    /// Answers every change of subscription with the named resources <paramref name="resources"/> holds at that moment
    /// (lock it to change it); ACKs and NACKs are only recorded. Runs until <paramref name="cancellationToken"/> fires.
    /// </summary>
    public static async Task ServeAsync(FakeAdsStream stream, Dictionary<string, IMessage> resources, CancellationToken cancellationToken)
    {
        var subscribed = new Dictionary<string, string>(StringComparer.Ordinal);
        while (!cancellationToken.IsCancellationRequested)
        {
            var request = await stream.TryNextRequestAsync(TimeSpan.FromMilliseconds(500));
            if (request is null)
            {
                continue;
            }

            var names = string.Join(",", request.ResourceNames.Order(StringComparer.Ordinal));
            if (subscribed.TryGetValue(request.TypeUrl, out var previous) && previous == names)
            {
                continue;
            }

            subscribed[request.TypeUrl] = names;
            IMessage[] found;
            lock (resources)
            {
                found = [.. request.ResourceNames.Select(n => resources.GetValueOrDefault(n)).OfType<IMessage>()];
            }

            await stream.SendAsync(request.TypeUrl, "1", found);
        }
    }
}
