using System.Collections.Immutable;
using Envoy.Config.Route.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// The outbound route configurations of an Envoy sidecar, one per HTTP port and named by it (<c>9080</c>): a virtual
/// host per service on the port, named <c>host:port</c>, whose domains are the names the sidecar's namespace can use
/// for it, and whose routes are the very routes proxyless clients get for that service (every VirtualService
/// feature, translated once); then the catch-all host (<c>allow_any</c> or <c>block_all</c>).
/// </summary>
public static class SidecarRoutes
{
    /// <summary>The name of the catch-all virtual host under ALLOW_ANY.</summary>
    public const string AllowAny = "allow_any";

    /// <summary>The name of the catch-all virtual host under REGISTRY_ONLY.</summary>
    public const string BlockAll = "block_all";

    /// <summary>Builds the route configuration of every HTTP port in <paramref name="httpPorts"/>.</summary>
    public static ImmutableDictionary<string, XdsResource> Build(
        MeshSnapshot snapshot,
        ImmutableDictionary<string, XdsResource> sharedRoutes,
        IReadOnlyDictionary<int, List<MeshService>> httpPorts,
        string clientNamespace,
        OutboundTrafficMode mode)
    {
        var routes = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        foreach (var (port, services) in httpPorts)
        {
            var name = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var config = new RouteConfiguration { Name = name, ValidateClusters = false, IgnorePortInHostMatching = true };
            foreach (var service in services)
            {
                var proxyless = $"{service.Host}:{port}";
                var host = new VirtualHost { Name = proxyless };
                host.Domains.AddRange(Domains(service, clientNamespace, snapshot.ClusterDomain));
                if (sharedRoutes.TryGetValue(proxyless, out var shared) && shared.Message is RouteConfiguration sharedConfig)
                {
                    foreach (var virtualHost in sharedConfig.VirtualHosts)
                    {
                        host.Routes.AddRange(virtualHost.Routes);
                    }
                }

                config.VirtualHosts.Add(host);
            }

            config.VirtualHosts.Add(CatchAll(mode));
            routes.Add(name, new XdsResource(name, config));
        }

        return routes.ToImmutable();
    }

    /// <summary>
    /// The names a client in <paramref name="clientNamespace"/> uses for <paramref name="service"/>, as Istio gives an
    /// Envoy sidecar: the FQDN; <c>name</c>, <c>name.ns</c>, <c>name.ns.svc</c> from the same namespace;
    /// <c>name.ns</c>, <c>name.ns.svc</c> from another. Without ports (the route configuration ignores them).
    /// </summary>
    public static IEnumerable<string> Domains(MeshService service, string clientNamespace, string clusterDomain)
    {
        yield return service.Host;
        var suffix = $".{service.Namespace}.svc.{clusterDomain}";
        if (!service.Host.EndsWith(suffix, StringComparison.Ordinal))
        {
            yield break;
        }

        var shortName = service.Host[..^suffix.Length];
        if (service.Namespace == clientNamespace)
        {
            yield return shortName;
        }

        yield return $"{shortName}.{service.Namespace}";
        yield return $"{shortName}.{service.Namespace}.svc";
    }

    private static VirtualHost CatchAll(OutboundTrafficMode mode)
    {
        var allow = mode == OutboundTrafficMode.AllowAny;
        return new VirtualHost
        {
            Name = allow ? AllowAny : BlockAll,
            Domains = { "*" },
            Routes =
            {
                new Route
                {
                    Name = allow ? AllowAny : BlockAll,
                    Match = new RouteMatch { Prefix = "/" },
                    Route_ = new RouteAction
                    {
                        Cluster = allow ? SidecarNames.PassthroughCluster : SidecarNames.BlackHoleCluster,
                        Timeout = new Duration(),
                    },
                },
            },
        };
    }
}
