using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Listener.OriginalDst.V3;
using Envoy.Extensions.Filters.Listener.TlsInspector.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Authorization;
using Mesh.ControlPlane.Model;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// <c>virtualInbound</c> on 15006, in Istio's layout: the original destination and TLS inspector listener filters;
/// a chain that stops connections to 15006 itself; per workload port (matched on the destination port) the chains
/// its PeerAuthentication mode calls for; and passthrough chains for ports no service declares.
/// <list type="bullet">
/// <item>STRICT: one chain on transport <c>tls</c>, terminating mesh mTLS.</item>
/// <item>PERMISSIVE: mTLS on <c>tls</c> with one of Istio's mesh ALPN values, then plaintext on <c>raw_buffer</c>;
/// TCP ports also pass other TLS through untouched.</item>
/// <item>DISABLE: plaintext on <c>raw_buffer</c> (TCP ports also pass TLS through).</item>
/// </list>
/// HTTP ports run an HTTP connection manager with the workload's RBAC filters (AuthorizationPolicy) and an
/// inline route to <c>inbound|port||</c>; TCP ports a TCP proxy to it. A TCP port of a workload that
/// AuthorizationPolicies select is closed (BlackHoleCluster): the policies are translated to HTTP RBAC only, and
/// serving such a port unfiltered would widen them.
/// </summary>
public static class SidecarInboundListener
{
    /// <summary>The chain that stops connections to 15006 itself.</summary>
    public const string BlackholeChain = "virtualInbound-blackhole";

    /// <summary>The passthrough chains' name prefix.</summary>
    public const string PassthroughChain = "virtualInbound";

    /// <summary>Builds virtualInbound for <paramref name="workload"/>.</summary>
    public static Listener Build(MeshSnapshot snapshot, SidecarWorkload workload)
    {
        var listener = new Listener
        {
            Name = SidecarNames.VirtualInbound,
            Address = SidecarOutboundListeners.Any0(SidecarNames.InboundCapturePort),
            TrafficDirection = TrafficDirection.Inbound,
            ListenerFilters =
            {
                new ListenerFilter { Name = SidecarNames.OriginalDstFilter, TypedConfig = Any.Pack(new OriginalDst()) },
                new ListenerFilter { Name = SidecarNames.TlsInspectorFilter, TypedConfig = Any.Pack(new TlsInspector()) },
            },
            FilterChains =
            {
                new FilterChain
                {
                    Name = BlackholeChain,
                    FilterChainMatch = new FilterChainMatch { DestinationPort = SidecarNames.InboundCapturePort },
                    Filters = { SidecarOutboundListeners.TcpProxyFilter(SidecarNames.BlackHoleCluster, SidecarNames.BlackHoleCluster) },
                },
            },
        };

        var authorization = RbacFilterBuilder.Build(
            AuthorizationPolicyScope.ForWorkload(snapshot, workload.Namespace, workload.Labels), snapshot.TrustDomain);
        foreach (var (port, protocol) in workload.Ports)
        {
            var mode = PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, workload.Namespace, workload.Labels, port);
            var name = SidecarNames.OutboundListener(port);
            var cluster = SidecarNames.InboundCluster(port);
            if (SidecarNames.IsHttp(protocol))
            {
                var hcm = new Filter { Name = SidecarNames.HttpConnectionManagerFilter, TypedConfig = Any.Pack(InboundConnectionManager(port, authorization)) };
                AddChains(listener, name, (uint)port, mode, http: true, hcm);
            }
            else
            {
                var target = authorization.Count > 0 ? SidecarNames.BlackHoleCluster : cluster;
                AddChains(listener, name, (uint)port, mode, http: false, SidecarOutboundListeners.TcpProxyFilter(cluster, target));
            }
        }

        var passthroughMode = PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, workload.Namespace, workload.Labels, 0);
        AddChains(
            listener,
            PassthroughChain,
            port: null,
            passthroughMode,
            http: false,
            SidecarOutboundListeners.TcpProxyFilter(SidecarNames.InboundPassthroughCluster, SidecarNames.InboundPassthroughCluster));
        return listener;
    }

    private static void AddChains(Listener listener, string name, uint? port, MtlsMode mode, bool http, Filter filter)
    {
        FilterChainMatch Match(string transport, IEnumerable<string>? alpn = null)
        {
            var match = new FilterChainMatch { TransportProtocol = transport };
            if (port is { } p)
            {
                match.DestinationPort = p;
            }

            if (alpn is not null)
            {
                match.ApplicationProtocols.AddRange(alpn);
            }

            return match;
        }

        FilterChain Chain(string suffix, FilterChainMatch match, TransportSocket? socket)
        {
            var chain = new FilterChain { Name = name + suffix, FilterChainMatch = match, Filters = { filter.Clone() } };
            if (socket is not null)
            {
                chain.TransportSocket = socket;
            }

            return chain;
        }

        switch (mode)
        {
            case MtlsMode.Strict:
                listener.FilterChains.Add(Chain("-mtls", Match("tls"), SidecarTls.Downstream(http)));
                break;
            case MtlsMode.Disable:
                listener.FilterChains.Add(Chain("-plaintext", Match("raw_buffer"), socket: null));
                if (!http)
                {
                    listener.FilterChains.Add(Chain("-tls-passthrough", Match("tls"), socket: null));
                }

                break;
            default:
                listener.FilterChains.Add(Chain("-mtls", Match("tls", SidecarNames.IstioMtlsAlpns), SidecarTls.Downstream(http)));
                if (!http)
                {
                    listener.FilterChains.Add(Chain("-tls-passthrough", Match("tls"), socket: null));
                }

                listener.FilterChains.Add(Chain("-plaintext", Match("raw_buffer"), socket: null));
                break;
        }
    }

    private static Hcm.HttpConnectionManager InboundConnectionManager(int port, IReadOnlyList<Hcm.HttpFilter> authorization)
    {
        var cluster = SidecarNames.InboundCluster(port);
        var hcm = new Hcm.HttpConnectionManager
        {
            StatPrefix = cluster,
            RouteConfig = new RouteConfiguration
            {
                Name = cluster,
                ValidateClusters = false,
                VirtualHosts =
                {
                    new VirtualHost
                    {
                        Name = $"inbound|http|{port}",
                        Domains = { "*" },
                        Routes =
                        {
                            new Route
                            {
                                Name = "default",
                                Match = new RouteMatch { Prefix = "/" },
                                Route_ = new RouteAction { Cluster = cluster, Timeout = new Duration() },
                            },
                        },
                    },
                },
            },
        };
        foreach (var filter in authorization)
        {
            hcm.HttpFilters.Add(filter);
        }

        hcm.HttpFilters.Add(new Hcm.HttpFilter { Name = ProxylessTranslator.RouterFilterName, TypedConfig = Any.Pack(new Router()) });
        return hcm;
    }
}
