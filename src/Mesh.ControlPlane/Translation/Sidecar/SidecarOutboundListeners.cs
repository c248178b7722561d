using System.Collections.Immutable;
using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// The outbound listeners of an Envoy sidecar, in Istio's layout: <c>virtualOutbound</c> on 15001 takes every
/// captured connection and hands it to the listener of its original destination port (<c>use_original_dst</c>);
/// <c>0.0.0.0_&lt;port&gt;</c> per HTTP port (not bound; an HTTP connection manager with RDS named by the port); and
/// <c>0.0.0.0_&lt;port&gt;</c> per TCP port, with a chain per service matching its endpoints' addresses (the model
/// has no service VIPs, so TCP services are told apart the way Istio tells headless ones apart).
/// </summary>
public static class SidecarOutboundListeners
{
    /// <summary>The chain of virtualOutbound that stops connections to 15001 itself (a loop).</summary>
    public const string BlackholeChain = "virtualOutbound-blackhole";

    /// <summary>The chain of virtualOutbound for connections no port listener takes.</summary>
    public const string CatchAllChain = "virtualOutbound-catchall-tcp";

    /// <summary>The default chain of a TCP port listener.</summary>
    public const string PassthroughChain = "PassthroughFilterChain";

    private static readonly ConfigSource Ads = new() { Ads = new AggregatedConfigSource(), InitialFetchTimeout = new Duration(), ResourceApiVersion = ApiVersion.V3 };

    /// <summary>Builds the outbound listeners.</summary>
    public static void Build(
        ImmutableDictionary<string, XdsResource>.Builder listeners,
        IReadOnlyDictionary<int, List<MeshService>> httpPorts,
        IReadOnlyDictionary<int, List<MeshService>> tcpPorts,
        OutboundTrafficMode mode)
    {
        var fallback = mode == OutboundTrafficMode.AllowAny ? SidecarNames.PassthroughCluster : SidecarNames.BlackHoleCluster;
        var virtualOutbound = new Listener
        {
            Name = SidecarNames.VirtualOutbound,
            Address = Any0(SidecarNames.OutboundCapturePort),
            UseOriginalDst = true,
            TrafficDirection = TrafficDirection.Outbound,
            FilterChains =
            {
                new FilterChain
                {
                    Name = BlackholeChain,
                    FilterChainMatch = new FilterChainMatch { DestinationPort = SidecarNames.OutboundCapturePort },
                    Filters = { TcpProxyFilter(SidecarNames.BlackHoleCluster, SidecarNames.BlackHoleCluster) },
                },
                new FilterChain
                {
                    Name = CatchAllChain,
                    Filters = { TcpProxyFilter(fallback, fallback) },
                },
            },
        };
        Add(listeners, virtualOutbound);

        foreach (var (port, _) in httpPorts)
        {
            var name = SidecarNames.OutboundListener(port);
            var hcm = new Hcm.HttpConnectionManager
            {
                StatPrefix = "outbound_" + name,
                Rds = new Hcm.Rds { ConfigSource = Ads, RouteConfigName = port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                HttpFilters =
                {
                    new Hcm.HttpFilter { Name = ProxylessTranslator.FaultFilterName, TypedConfig = Any.Pack(new HTTPFault()) },
                    new Hcm.HttpFilter { Name = ProxylessTranslator.RouterFilterName, TypedConfig = Any.Pack(new Router()) },
                },
            };
            var listener = new Listener
            {
                Name = name,
                Address = Any0(port),
                BindToPort = false,
                TrafficDirection = TrafficDirection.Outbound,
                FilterChains =
                {
                    new FilterChain
                    {
                        Name = name,
                        Filters = { new Filter { Name = SidecarNames.HttpConnectionManagerFilter, TypedConfig = Any.Pack(hcm) } },
                    },
                },
            };
            Add(listeners, listener);
        }

        foreach (var (port, services) in tcpPorts)
        {
            if (httpPorts.ContainsKey(port))
            {
                continue; // an HTTP listener owns the port; Istio resolves the same conflict the same way.
            }

            var name = SidecarNames.OutboundListener(port);
            var listener = new Listener { Name = name, Address = Any0(port), BindToPort = false, TrafficDirection = TrafficDirection.Outbound };
            var claimed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var service in services)
            {
                var cluster = Mesh.Xds.XdsResourceNames.ClusterName(port, null, service.Host);
                var match = new FilterChainMatch();
                foreach (var endpoint in service.Endpoints.OrderBy(static e => e.Address, StringComparer.Ordinal))
                {
                    if (endpoint.Ports.ContainsKey(port) && System.Net.IPAddress.TryParse(endpoint.Address, out var ip) && claimed.Add(endpoint.Address))
                    {
                        match.PrefixRanges.Add(new CidrRange
                        {
                            AddressPrefix = endpoint.Address,
                            PrefixLen = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128u : 32u,
                        });
                    }
                }

                if (match.PrefixRanges.Count > 0)
                {
                    listener.FilterChains.Add(new FilterChain
                    {
                        Name = cluster,
                        FilterChainMatch = match,
                        Filters = { TcpProxyFilter(cluster, cluster) },
                    });
                }
            }

            listener.FilterChains.Add(new FilterChain { Name = PassthroughChain, Filters = { TcpProxyFilter(fallback, fallback) } });
            Add(listeners, listener);
        }
    }

    /// <summary>A TCP proxy filter to <paramref name="cluster"/>.</summary>
    public static Filter TcpProxyFilter(string statPrefix, string cluster) => new()
    {
        Name = SidecarNames.TcpProxyFilter,
        TypedConfig = Any.Pack(new TcpProxy { StatPrefix = statPrefix, Cluster = cluster }),
    };

    /// <summary>0.0.0.0:<paramref name="port"/>.</summary>
    public static Address Any0(int port) => new() { SocketAddress = new SocketAddress { Address = "0.0.0.0", PortValue = (uint)port } };

    private static void Add(ImmutableDictionary<string, XdsResource>.Builder listeners, Listener listener) =>
        listeners.Add(listener.Name, new XdsResource(listener.Name, listener));
}
