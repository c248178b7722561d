using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Mesh.Xds;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// The clusters of an Envoy sidecar: the outbound EDS clusters every client shares (the same resource objects,
/// except where Envoy's TLS differs from the proxyless one: SDS certificates, auto-mTLS by
/// <c>transport_socket_matches</c>), the inbound clusters of the workload's ports, and Istio's fixed clusters.
/// </summary>
public static class SidecarClusters
{
    private static readonly Duration ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(10));

    /// <summary>Builds the clusters of a sidecar of <paramref name="workload"/>.</summary>
    public static ImmutableDictionary<string, XdsResource> Build(MeshSnapshot snapshot, ImmutableDictionary<string, XdsResource> shared, SidecarWorkload workload)
    {
        var clusters = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        foreach (var (name, resource) in shared)
        {
            clusters.Add(name, Outbound(snapshot, resource));
        }

        foreach (var port in workload.Ports.Keys)
        {
            var name = SidecarNames.InboundCluster(port);
            var inbound = OriginalDestination(name, bindToInboundPassthrough: true);
            clusters.Add(name, new XdsResource(name, inbound));
        }

        var blackHole = new Cluster
        {
            Name = SidecarNames.BlackHoleCluster,
            Type = Cluster.Types.DiscoveryType.Static,
            ConnectTimeout = ConnectTimeout,
        };
        clusters.Add(blackHole.Name, new XdsResource(blackHole.Name, blackHole));
        var passthrough = OriginalDestination(SidecarNames.PassthroughCluster, bindToInboundPassthrough: false);
        clusters.Add(passthrough.Name, new XdsResource(passthrough.Name, passthrough));
        var inboundPassthrough = OriginalDestination(SidecarNames.InboundPassthroughCluster, bindToInboundPassthrough: true);
        clusters.Add(inboundPassthrough.Name, new XdsResource(inboundPassthrough.Name, inboundPassthrough));
        return clusters.ToImmutable();
    }

    private static XdsResource Outbound(MeshSnapshot snapshot, XdsResource shared)
    {
        if (!XdsResourceNames.TryParseClusterName(shared.Name, out var port, out var subsetName, out var host)
            || !snapshot.Services.TryGetValue(host, out var service)
            || service.FindPort(port) is not { } servicePort)
        {
            return shared;
        }

        snapshot.Policies.TryGetValue(host, out var policy);
        var subset = string.IsNullOrEmpty(subsetName) ? null : policy?.FindSubset(subsetName);
        var traffic = subset?.Traffic ?? policy?.Traffic ?? TrafficPolicy.Default;
        var http2 = SidecarNames.IsHttp2(servicePort.Protocol);
        var sni = SidecarNames.Sni(port, subset?.Name, host);

        var identities = new SortedSet<string>(StringComparer.Ordinal);
        var anyMtls = false;
        foreach (var endpoint in service.Endpoints)
        {
            if (!endpoint.Ports.TryGetValue(port, out var target) || (subset is not null && !endpoint.Matches(subset.Labels)))
            {
                continue;
            }

            identities.Add(SecurityTranslator.Identity(snapshot, service.Namespace, endpoint.ServiceAccount));
            anyMtls |= SidecarTls.ServesMeshMtls(snapshot, service, endpoint, target);
        }

        switch (traffic.TlsMode)
        {
            case "ISTIO_MUTUAL":
            {
                var cluster = ((Cluster)shared.Message).Clone();
                cluster.TransportSocket = SidecarTls.Upstream(sni, identities, http2);
                return new XdsResource(shared.Name, cluster);
            }

            case null when anyMtls:
            {
                // Auto-mTLS: TLS to endpoints that serve it (metadata tlsMode: istio), plaintext to the rest.
                var cluster = ((Cluster)shared.Message).Clone();
                cluster.TransportSocket = null;
                var match = new Struct();
                match.Fields[SidecarNames.TlsModeKey] = Value.ForString("istio");
                cluster.TransportSocketMatches.Add(new Cluster.Types.TransportSocketMatch
                {
                    Name = "tlsMode-istio",
                    Match = match,
                    TransportSocket = SidecarTls.Upstream(sni, identities, http2),
                });
                cluster.TransportSocketMatches.Add(new Cluster.Types.TransportSocketMatch
                {
                    Name = "tlsMode-disabled",
                    Match = new Struct(),
                    TransportSocket = SidecarTls.RawBuffer(),
                });
                return new XdsResource(shared.Name, cluster);
            }

            default:
                return shared;
        }
    }

    private static Cluster OriginalDestination(string name, bool bindToInboundPassthrough)
    {
        var cluster = new Cluster
        {
            Name = name,
            Type = Cluster.Types.DiscoveryType.OriginalDst,
            LbPolicy = Cluster.Types.LbPolicy.ClusterProvided,
            ConnectTimeout = ConnectTimeout,
            CleanupInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(60)),
        };
        if (bindToInboundPassthrough)
        {
            // Istio's iptables rules let connections from 127.0.0.6 reach the app instead of looping back to Envoy.
            cluster.UpstreamBindConfig = new BindConfig { SourceAddress = new SocketAddress { Address = "127.0.0.6", PortValue = 0 } };
        }

        return cluster;
    }
}
