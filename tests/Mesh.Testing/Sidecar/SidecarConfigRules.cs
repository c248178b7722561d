using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.Testing.Sidecar;

/// <summary>
/// Istio's structural rules for generated Envoy configuration (its xdstest validation), plus go-control-plane's
/// snapshot consistency: what a schema cannot say but Envoy, or Envoy's filter chain matching, depends on.
/// </summary>
public static class SidecarConfigRules
{
    /// <summary>Every rule broken by the given resources.</summary>
    public static IReadOnlyList<ProtoViolation> Check(
        IReadOnlyCollection<Listener> listeners,
        IReadOnlyCollection<RouteConfiguration> routes,
        IReadOnlyCollection<Cluster> clusters,
        IReadOnlyCollection<ClusterLoadAssignment> assignments)
    {
        var violations = new List<ProtoViolation>();
        Duplicates(listeners.Select(static l => l.Name), "listener", "duplicate listener name", violations);
        Duplicates(
            listeners.Where(static l => l.Address?.SocketAddress is not null).Select(static l => $"{l.Address.SocketAddress.Address}:{l.Address.SocketAddress.PortValue}"),
            "listener",
            "duplicate listener address",
            violations);
        Duplicates(clusters.Select(static c => c.Name), "cluster", "duplicate cluster name", violations);
        Duplicates(routes.Select(static r => r.Name), "route", "duplicate route configuration name", violations);

        var referencedRoutes = new HashSet<string>(StringComparer.Ordinal);
        var referencedClusters = new HashSet<string>(StringComparer.Ordinal);
        foreach (var listener in listeners)
        {
            CheckListener(listener, violations, referencedRoutes, referencedClusters);
        }

        foreach (var route in routes)
        {
            CheckRouteConfiguration(route, "route " + route.Name, violations, referencedClusters);
        }

        var routeNames = routes.Select(static r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in referencedRoutes.Where(n => !routeNames.Contains(n)))
        {
            violations.Add(new ProtoViolation("route " + name, string.Empty, "referenced by a listener (RDS) but not served"));
        }

        var clusterNames = clusters.Select(static c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in referencedClusters.Where(n => !clusterNames.Contains(n)))
        {
            violations.Add(new ProtoViolation("cluster " + name, string.Empty, "referenced by a route or TCP proxy but not served"));
        }

        var assignmentNames = assignments.Select(static a => a.ClusterName).ToHashSet(StringComparer.Ordinal);
        foreach (var cluster in clusters)
        {
            if (cluster.TransportSocket is not null && cluster.TransportSocketMatches.Count > 0)
            {
                violations.Add(new ProtoViolation("cluster " + cluster.Name, "transport_socket", "sets both transport_socket and transport_socket_matches"));
            }

            if (cluster.Type == Cluster.Types.DiscoveryType.Eds)
            {
                var service = string.IsNullOrEmpty(cluster.EdsClusterConfig?.ServiceName) ? cluster.Name : cluster.EdsClusterConfig.ServiceName;
                if (!assignmentNames.Contains(service))
                {
                    violations.Add(new ProtoViolation("cluster " + cluster.Name, "eds_cluster_config.service_name", $"load assignment '{service}' is not served"));
                }
            }
        }

        return violations;
    }

    private static void CheckListener(Listener listener, List<ProtoViolation> violations, HashSet<string> referencedRoutes, HashSet<string> referencedClusters)
    {
        var resource = "listener " + listener.Name;
        var filters = listener.ListenerFilters.Select(static f => f.Name).ToList();
        Duplicates(filters, resource, "duplicate listener filter", violations);
        var tlsInspector = filters.Contains("envoy.filters.listener.tls_inspector");
        var httpInspector = filters.Contains("envoy.filters.listener.http_inspector");
        var seen = new List<FilterChainMatch>();
        var transportByPort = new Dictionary<uint, (bool Set, bool Unset)>();
        foreach (var chain in listener.FilterChains)
        {
            var path = $"filter_chains[{chain.Name}]";
            var match = chain.FilterChainMatch ?? new FilterChainMatch();
            if ((match.TransportProtocol == "tls" || match.ServerNames.Count > 0) && !tlsInspector)
            {
                violations.Add(new ProtoViolation(resource, path, "matches TLS or server names without the tls_inspector listener filter"));
            }

            if (match.ApplicationProtocols.Count > 0 && !tlsInspector && !httpInspector)
            {
                violations.Add(new ProtoViolation(resource, path, "matches application protocols without a TLS or HTTP inspector"));
            }

            if (seen.Any(m => m.Equals(match)))
            {
                violations.Add(new ProtoViolation(resource, path, "has the same filter_chain_match as an earlier chain"));
            }

            seen.Add(match);
            var port = match.DestinationPort ?? 0;
            transportByPort.TryGetValue(port, out var state);
            transportByPort[port] = (state.Set || match.TransportProtocol.Length > 0, state.Unset || match.TransportProtocol.Length == 0);

            foreach (var filter in chain.Filters)
            {
                if (filter.TypedConfig is null)
                {
                    continue;
                }

                if (filter.TypedConfig.TryUnpack<Hcm.HttpConnectionManager>(out var hcm))
                {
                    if (match.TransportProtocol == "tls" && chain.TransportSocket is null)
                    {
                        violations.Add(new ProtoViolation(resource, path, "matches TLS and runs HTTP but terminates no TLS (no transport_socket)"));
                    }

                    if (hcm.Rds is not null)
                    {
                        referencedRoutes.Add(hcm.Rds.RouteConfigName);
                    }
                    else if (hcm.RouteConfig is not null)
                    {
                        CheckRouteConfiguration(hcm.RouteConfig, resource + " " + path + " route_config", violations, referencedClusters);
                    }
                }
                else if (filter.TypedConfig.TryUnpack<TcpProxy>(out var tcp) && tcp.ClusterSpecifierCase == TcpProxy.ClusterSpecifierOneofCase.Cluster)
                {
                    referencedClusters.Add(tcp.Cluster);
                }
            }
        }

        foreach (var (port, state) in transportByPort)
        {
            if (port != 0 && state.Set && state.Unset)
            {
                violations.Add(new ProtoViolation(resource, $"destination_port {port}", "some chains for the port match a transport protocol and some do not (Envoy would never reach the latter for that transport)"));
            }
        }
    }

    private static void CheckRouteConfiguration(RouteConfiguration route, string resource, List<ProtoViolation> violations, HashSet<string> referencedClusters)
    {
        Duplicates(route.VirtualHosts.Select(static v => v.Name), resource, "duplicate virtual host name", violations);
        Duplicates(route.VirtualHosts.SelectMany(static v => v.Domains), resource, "duplicate domain", violations);
        foreach (var action in route.VirtualHosts.SelectMany(static v => v.Routes).Where(static r => r.Route_ is not null).Select(static r => r.Route_))
        {
            if (action.ClusterSpecifierCase == RouteAction.ClusterSpecifierOneofCase.Cluster)
            {
                referencedClusters.Add(action.Cluster);
            }
            else if (action.WeightedClusters is not null)
            {
                foreach (var weighted in action.WeightedClusters.Clusters)
                {
                    referencedClusters.Add(weighted.Name);
                }
            }
        }
    }

    private static void Duplicates(IEnumerable<string> names, string resource, string message, List<ProtoViolation> violations)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (!seen.Add(name))
            {
                violations.Add(new ProtoViolation(resource, name, message));
            }
        }
    }
}
