using System.Net;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// Which clusters are DNS clusters: those of a ServiceEntry whose endpoints (or hosts) are names rather than IP
/// addresses. One name becomes a <c>LOGICAL_DNS</c> cluster, the kind gRPC clients follow (gRFC A37) and Istio uses for
/// <c>DNS_ROUND_ROBIN</c>; several become <c>STRICT_DNS</c>, as Istio sends for <c>DNS</c>, which Mesh.Client and Envoy
/// follow. Clusters whose endpoints are all IP addresses stay EDS clusters whatever the resolution says: nothing to resolve.
/// </summary>
internal static class DnsClusters
{
    /// <summary>The DNS discovery type for the cluster of <paramref name="service"/> with these endpoints, or null for EDS.</summary>
    public static Cluster.Types.DiscoveryType? Type(MeshService service, ClusterLoadAssignment assignment)
    {
        if (service.Resolution == ServiceResolution.Static)
        {
            return null;
        }

        var names = 0;
        var any = false;
        foreach (var locality in assignment.Endpoints)
        {
            foreach (var endpoint in locality.LbEndpoints)
            {
                names++;
                any |= !IPAddress.TryParse(endpoint.Endpoint.Address.SocketAddress.Address, out _);
            }
        }

        if (!any)
        {
            return null;
        }

        return names == 1 || service.Resolution == ServiceResolution.DnsRoundRobin
            ? Cluster.Types.DiscoveryType.LogicalDns
            : Cluster.Types.DiscoveryType.StrictDns;
    }
}
