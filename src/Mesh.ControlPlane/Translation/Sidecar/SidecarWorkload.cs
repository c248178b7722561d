using System.Collections.Immutable;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// What a sidecar's own pod serves, found by its IP among the endpoints of every service: the workload ports
/// (target ports) with their protocol, the labels that PeerAuthentication and AuthorizationPolicy selectors
/// match (the node's <c>LABELS</c>, else the endpoint's), and the namespace.
/// </summary>
/// <param name="Namespace">The workload's namespace.</param>
/// <param name="Labels">The workload's labels.</param>
/// <param name="Ports">Target port → protocol, in port order.</param>
public sealed record SidecarWorkload(string Namespace, ImmutableSortedDictionary<string, string> Labels, ImmutableSortedDictionary<int, string> Ports)
{
    /// <summary>Finds the workload of <paramref name="node"/> in <paramref name="snapshot"/>.</summary>
    public static SidecarWorkload Find(MeshSnapshot snapshot, SidecarNode node, ClientWorkload client)
    {
        var labels = client.Labels;
        var ports = ImmutableSortedDictionary.CreateBuilder<int, string>();
        foreach (var service in snapshot.Services.Values.OrderBy(static s => s.Host, StringComparer.Ordinal))
        {
            foreach (var endpoint in service.Endpoints)
            {
                if (endpoint.Address != node.IpAddress)
                {
                    continue;
                }

                if (labels.IsEmpty && !endpoint.Labels.IsEmpty)
                {
                    labels = endpoint.Labels.ToImmutableSortedDictionary(StringComparer.Ordinal, StringComparer.Ordinal);
                }

                foreach (var port in service.Ports)
                {
                    if (endpoint.Ports.TryGetValue(port.Number, out var target) && !SidecarNames.ReservedPorts.Contains(target))
                    {
                        // The first service (by host) to declare a target port decides its protocol; an HTTP
                        // declaration wins over a TCP one, since HTTP chains also carry the RBAC filter.
                        if (!ports.TryGetValue(target, out var known) || (!SidecarNames.IsHttp(known) && SidecarNames.IsHttp(port.Protocol)))
                        {
                            ports[target] = port.Protocol;
                        }
                    }
                }
            }
        }

        return new SidecarWorkload(node.Namespace, labels, ports.ToImmutable());
    }
}
