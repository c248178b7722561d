using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation.Sidecar;
using Mesh.Xds;
using HttpProtocolOptions = Envoy.Extensions.Upstreams.Http.V3.HttpProtocolOptions;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// The translator seam the xDS server calls: one translation per snapshot into the resources every client shares,
/// with one flavour per kind of client. Proxyless clients (gRPC, Mesh.Client) get <see cref="ProxylessTranslator"/>'s
/// resources; an Envoy sidecar gets <see cref="SidecarTranslator"/>'s, chosen per node by
/// <see cref="XdsResourceSet.ForClient"/>. The outbound clusters and their load assignments are the same objects in
/// both flavours; what both can read is added here once: the upstream HTTP/2 protocol option of gRPC and HTTP/2
/// ports (Envoy needs it; gRPC clients ignore it) and, on each endpoint that serves mesh mTLS, the
/// <c>envoy.transport_socket_match</c> metadata <c>tlsMode: istio</c> that Envoy's auto-mTLS matches.
/// </summary>
public static class MeshTranslator
{
    /// <summary>Translates <paramref name="snapshot"/> for every flavour of client.</summary>
    /// <param name="snapshot">The validated model.</param>
    /// <param name="loadReporting">Whether EDS clusters name the control plane as their LRS server.</param>
    /// <param name="outboundTrafficMode">What a sidecar does with traffic to hosts the mesh does not know.</param>
    public static XdsResourceSet Translate(MeshSnapshot snapshot, bool loadReporting = false, OutboundTrafficMode outboundTrafficMode = OutboundTrafficMode.AllowAny)
    {
        var proxyless = ProxylessTranslator.Translate(snapshot, loadReporting);
        var byType = proxyless.ByType
            .SetItem(XdsTypeUrls.Cluster, WithProtocolOptions(snapshot, proxyless.Of(XdsTypeUrls.Cluster)))
            .SetItem(XdsTypeUrls.ClusterLoadAssignment, WithTlsMode(snapshot, proxyless.Of(XdsTypeUrls.ClusterLoadAssignment)));
        return proxyless.WithFlavours(
            byType,
            (shared, node, client) => SidecarTranslator.Translate(snapshot, shared, node, client, outboundTrafficMode),
            (shared, node, client) => Gateways.GatewayTranslator.TranslateForEnvoy(snapshot, shared, node, client));
    }

    private static ImmutableDictionary<string, XdsResource> WithProtocolOptions(MeshSnapshot snapshot, ImmutableDictionary<string, XdsResource> clusters)
    {
        var builder = clusters.ToBuilder();
        foreach (var (name, resource) in clusters)
        {
            if (XdsResourceNames.TryParseClusterName(name, out var port, out _, out var host)
                && snapshot.Services.TryGetValue(host, out var service)
                && service.FindPort(port) is { } servicePort
                && SidecarNames.IsHttp2(servicePort.Protocol))
            {
                var cluster = ((Cluster)resource.Message).Clone();
                cluster.TypedExtensionProtocolOptions[SidecarNames.HttpProtocolOptionsKey] = Any.Pack(new HttpProtocolOptions
                {
                    ExplicitHttpConfig = new HttpProtocolOptions.Types.ExplicitHttpConfig { Http2ProtocolOptions = new Http2ProtocolOptions() },
                });
                builder[name] = new XdsResource(name, cluster);
            }
        }

        return builder.ToImmutable();
    }

    private static ImmutableDictionary<string, XdsResource> WithTlsMode(MeshSnapshot snapshot, ImmutableDictionary<string, XdsResource> assignments)
    {
        var builder = assignments.ToBuilder();
        foreach (var (name, resource) in assignments)
        {
            if (!XdsResourceNames.TryParseClusterName(name, out var port, out _, out var host)
                || !snapshot.Services.TryGetValue(host, out var service))
            {
                continue;
            }

            ClusterLoadAssignment? copy = null;
            var original = (ClusterLoadAssignment)resource.Message;
            for (var g = 0; g < original.Endpoints.Count; g++)
            {
                for (var e = 0; e < original.Endpoints[g].LbEndpoints.Count; e++)
                {
                    var address = original.Endpoints[g].LbEndpoints[e].Endpoint?.Address?.SocketAddress?.Address;
                    if (FindEndpoint(service, address, port) is not { } endpoint
                        || !SidecarTls.ServesMeshMtls(snapshot, service, endpoint, endpoint.Ports[port]))
                    {
                        continue;
                    }

                    copy ??= original.Clone();
                    var fields = new Struct();
                    fields.Fields[SidecarNames.TlsModeKey] = Value.ForString("istio");
                    copy.Endpoints[g].LbEndpoints[e].Metadata = new Metadata { FilterMetadata = { [SidecarNames.TransportSocketMatchKey] = fields } };
                }
            }

            if (copy is not null)
            {
                builder[name] = new XdsResource(name, copy);
            }
        }

        return builder.ToImmutable();
    }

    private static ServiceEndpoint? FindEndpoint(MeshService service, string? address, int port)
    {
        foreach (var endpoint in service.Endpoints)
        {
            if (endpoint.Address == address && endpoint.Ports.ContainsKey(port))
            {
                return endpoint;
            }
        }

        return null;
    }
}
