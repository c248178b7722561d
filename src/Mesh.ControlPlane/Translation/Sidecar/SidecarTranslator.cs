using System.Collections.Immutable;
using Mesh.ControlPlane.Model;
using Mesh.Xds;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// The Envoy sidecar flavour of translation: from the same snapshot, and from the resources every client shares
/// (outbound clusters and their load assignments, and each service port's routes), the wildcard configuration an
/// Envoy sidecar runs on — Istio's listener layout (<see cref="SidecarOutboundListeners"/>,
/// <see cref="SidecarInboundListener"/>), route configurations per port (<see cref="SidecarRoutes"/>) and clusters
/// (<see cref="SidecarClusters"/>). A pure function of its inputs.
/// </summary>
public static class SidecarTranslator
{
    /// <summary>Translates for the sidecar <paramref name="node"/>.</summary>
    /// <param name="snapshot">The mesh.</param>
    /// <param name="shared">The resources every client shares, as <see cref="MeshTranslator"/> made them.</param>
    /// <param name="node">The sidecar.</param>
    /// <param name="client">The node's namespace and labels, from its metadata.</param>
    /// <param name="mode">What to do with traffic to unknown destinations.</param>
    public static XdsResourceSet Translate(MeshSnapshot snapshot, XdsResourceSet shared, SidecarNode node, ClientWorkload client, OutboundTrafficMode mode)
    {
        var workload = SidecarWorkload.Find(snapshot, node, client);
        var httpPorts = new SortedDictionary<int, List<MeshService>>();
        var tcpPorts = new SortedDictionary<int, List<MeshService>>();
        foreach (var service in snapshot.Services.Values.OrderBy(static s => s.Host, StringComparer.Ordinal))
        {
            foreach (var port in service.Ports)
            {
                if (SidecarNames.ReservedPorts.Contains(port.Number))
                {
                    continue;
                }

                var byPort = SidecarNames.IsHttp(port.Protocol) ? httpPorts : tcpPorts;
                if (!byPort.TryGetValue(port.Number, out var list))
                {
                    list = [];
                    byPort.Add(port.Number, list);
                }

                list.Add(service);
            }
        }

        var listeners = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        SidecarOutboundListeners.Build(listeners, httpPorts, tcpPorts, mode);
        var inbound = SidecarInboundListener.Build(snapshot, workload);
        listeners.Add(inbound.Name, new XdsResource(inbound.Name, inbound));

        var byType = ImmutableDictionary.CreateRange(StringComparer.Ordinal, new[]
        {
            KeyValuePair.Create(XdsTypeUrls.Listener, listeners.ToImmutable()),
            KeyValuePair.Create(XdsTypeUrls.RouteConfiguration, SidecarRoutes.Build(snapshot, shared.Of(XdsTypeUrls.RouteConfiguration), httpPorts, node.Namespace, mode)),
            KeyValuePair.Create(XdsTypeUrls.Cluster, SidecarClusters.Build(snapshot, shared.Of(XdsTypeUrls.Cluster), workload)),
            KeyValuePair.Create(XdsTypeUrls.ClusterLoadAssignment, ForLocality(snapshot, shared.Of(XdsTypeUrls.ClusterLoadAssignment), client)),
        });
        return new XdsResourceSet(snapshot.Version, byType, static (_, _) => null);
    }

    // Locality load balancing relative to the sidecar's own locality, as istiod sends each proxy.
    private static ImmutableDictionary<string, XdsResource> ForLocality(MeshSnapshot snapshot, ImmutableDictionary<string, XdsResource> assignments, ClientWorkload client)
    {
        if (client.Locality == Locality.None)
        {
            return assignments;
        }

        var builder = assignments.ToBuilder();
        foreach (var (name, resource) in assignments)
        {
            if (LocalityLoadBalancer.ForClient(snapshot, name, (Envoy.Config.Endpoint.V3.ClusterLoadAssignment)resource.Message, client) is { } local)
            {
                builder[name] = new XdsResource(name, local);
            }
        }

        return builder.ToImmutable();
    }
}
