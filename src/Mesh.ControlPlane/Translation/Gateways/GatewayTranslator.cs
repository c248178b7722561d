using System.Collections.Immutable;
using System.Globalization;
using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation.Sidecar;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Translation.Gateways;

/// <summary>
/// The gateway flavour of translation: for a workload that Istio Gateways select (by its labels), a listener per
/// server port, named as istiod names a gateway Envoy's (<c>0.0.0.0_8080</c>), whose connection manager takes its
/// routes by RDS — <c>http.8080</c> for the plaintext servers of a port, <c>https.443.&lt;port
/// name&gt;.&lt;gateway&gt;.&lt;namespace&gt;</c> for an HTTPS server — and terminates TLS with certificates named as
/// Istio's SDS names them (<c>kubernetes://&lt;credentialName&gt;</c>, <c>file-cert:&lt;cert&gt;~&lt;key&gt;</c>,
/// <c>file-root:&lt;ca&gt;</c>). The route configurations hold a virtual host per host the bound VirtualServices
/// serve there, with the rules translated as for mesh clients (every VirtualService feature, one translation).
/// </summary>
/// <remarks>
/// An Envoy gateway (node id <c>router~…</c>) gets these as its whole wildcard configuration
/// (<see cref="TranslateForEnvoy"/>), with the outbound clusters of a sidecar. A Mesh gateway (Mesh.Gateway, a
/// Mesh.Client node) asks for the listeners by name and gets the same listener with an <c>api_listener</c> copy of
/// its connection manager, which Mesh.Client's route machinery follows.
/// </remarks>
public static class GatewayTranslator
{
    /// <summary>The SDS name prefix of a certificate from a Kubernetes Secret.</summary>
    public const string KubernetesPrefix = "kubernetes://";

    /// <summary>The SDS name prefix of a certificate and key from files (<c>file-cert:&lt;cert&gt;~&lt;key&gt;</c>).</summary>
    public const string FileCertificatePrefix = "file-cert:";

    /// <summary>The SDS name prefix of CA certificates from a file (<c>file-root:&lt;ca&gt;</c>).</summary>
    public const string FileRootPrefix = "file-root:";

    /// <summary>The suffix Istio appends to a credentialName for the CA certificates of a MUTUAL server.</summary>
    public const string CaCertificateSuffix = "-cacert";

    private static readonly ConfigSource Ads = new() { Ads = new AggregatedConfigSource(), InitialFetchTimeout = new Duration(), ResourceApiVersion = ApiVersion.V3 };

    /// <summary>The name of the listener of <paramref name="port"/>.</summary>
    public static string ListenerName(int port) => "0.0.0.0_" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The route configuration a server's requests are routed by.</summary>
    public static string RouteName(IngressGateway gateway, GatewayServer server) => server.IsHttps
        ? $"https.{server.Port.ToString(CultureInfo.InvariantCulture)}.{server.PortName}.{gateway.Name}.{gateway.Namespace}"
        : "http." + server.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The SDS (or certificate provider) name of an HTTPS server's certificate and key.</summary>
    public static string CertificateName(GatewayServerTls tls) => tls.CredentialName is { } credential
        ? KubernetesPrefix + credential
        : $"{FileCertificatePrefix}{tls.ServerCertificate}~{tls.PrivateKey}";

    /// <summary>The SDS (or certificate provider) name of a MUTUAL server's CA certificates; null for SIMPLE.</summary>
    public static string? RootName(GatewayServerTls tls) => tls.Mode != GatewayTlsMode.Mutual ? null
        : tls.CredentialName is { } credential ? KubernetesPrefix + credential + CaCertificateSuffix
        : FileRootPrefix + tls.CaCertificates;

    /// <summary>The servers a workload with <paramref name="labels"/> runs, by port, in Gateway order.</summary>
    public static SortedDictionary<int, List<(IngressGateway Gateway, GatewayServer Server)>> ServersFor(MeshSnapshot snapshot, IReadOnlyDictionary<string, string> labels)
    {
        var ports = new SortedDictionary<int, List<(IngressGateway, GatewayServer)>>();
        foreach (var gateway in snapshot.Gateways)
        {
            if (!gateway.Selects(labels))
            {
                continue;
            }

            foreach (var server in gateway.Servers)
            {
                if (!ports.TryGetValue(server.Port, out var list))
                {
                    list = [];
                    ports.Add(server.Port, list);
                }

                list.Add((gateway, server));
            }
        }

        return ports;
    }

    /// <summary>Every route configuration name any gateway workload may ask for.</summary>
    public static ImmutableSortedSet<string> RouteNames(MeshSnapshot snapshot)
    {
        var names = ImmutableSortedSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var gateway in snapshot.Gateways)
        {
            foreach (var server in gateway.Servers)
            {
                names.Add(RouteName(gateway, server));
            }
        }

        return names.ToImmutable();
    }

    /// <summary>
    /// The listener <paramref name="name"/> (<c>0.0.0.0_&lt;port&gt;</c>) for a Mesh gateway, <paramref name="client"/>:
    /// the Envoy listener with an <c>api_listener</c> copy of its connection manager; null when no Gateway selecting
    /// the client has a server on that port.
    /// </summary>
    public static Listener? BuildListener(MeshSnapshot snapshot, string name, ClientWorkload client)
    {
        if (snapshot.Gateways.IsEmpty || !name.StartsWith("0.0.0.0_", StringComparison.Ordinal)
            || !int.TryParse(name.AsSpan("0.0.0.0_".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || !ServersFor(snapshot, client.Labels).TryGetValue(port, out var servers))
        {
            return null;
        }

        var listener = BuildListener(port, servers);
        listener.ApiListener = new ApiListener { ApiListener_ = listener.FilterChains[0].Filters[0].TypedConfig.Clone() };
        return listener;
    }

    /// <summary>The Envoy listener of one port: one filter chain, plaintext or terminating the HTTPS server's TLS.</summary>
    public static Listener BuildListener(int port, IReadOnlyList<(IngressGateway Gateway, GatewayServer Server)> servers)
    {
        // The model allows at most one HTTPS server per port and workload, and never HTTPS next to plaintext.
        var (gateway, server) = servers[0];
        var http2Only = true;
        foreach (var (_, each) in servers)
        {
            http2Only &= each.Protocol is "GRPC" or "HTTP2";
        }

        var name = ListenerName(port);
        var hcm = new Hcm.HttpConnectionManager
        {
            StatPrefix = "outbound_" + name,
            CodecType = http2Only ? Hcm.HttpConnectionManager.Types.CodecType.Http2 : Hcm.HttpConnectionManager.Types.CodecType.Auto,
            Rds = new Hcm.Rds { ConfigSource = Ads, RouteConfigName = RouteName(gateway, server) },
            HttpFilters =
            {
                new Hcm.HttpFilter { Name = ProxylessTranslator.FaultFilterName, TypedConfig = Any.Pack(new HTTPFault()) },
                new Hcm.HttpFilter { Name = ProxylessTranslator.RouterFilterName, TypedConfig = Any.Pack(new Router()) },
            },
        };
        var chain = new FilterChain
        {
            Name = server.IsHttps ? $"{RouteName(gateway, server)}" : name,
            Filters = { new Filter { Name = SidecarNames.HttpConnectionManagerFilter, TypedConfig = Any.Pack(hcm) } },
        };
        if (server.IsHttps && server.Tls is { } tls)
        {
            var common = new CommonTlsContext
            {
                TlsCertificateSdsSecretConfigs = { SidecarTls.Sds(CertificateName(tls)) },
                AlpnProtocols = { "h2", "http/1.1" },
                TlsParams = new TlsParameters
                {
                    TlsMinimumProtocolVersion = TlsParameters.Types.TlsProtocol.Tlsv12,
                    TlsMaximumProtocolVersion = TlsParameters.Types.TlsProtocol.Tlsv13,
                },
            };
            if (RootName(tls) is { } root)
            {
                common.ValidationContextSdsSecretConfig = SidecarTls.Sds(root);
            }

            chain.TransportSocket = new TransportSocket
            {
                Name = "envoy.transport_sockets.tls",
                TypedConfig = Any.Pack(new DownstreamTlsContext
                {
                    CommonTlsContext = common,
                    RequireClientCertificate = tls.Mode == GatewayTlsMode.Mutual,
                }),
            };
        }

        return new Listener
        {
            Name = name,
            Address = new Address { SocketAddress = new SocketAddress { Address = "0.0.0.0", PortValue = (uint)port } },
            TrafficDirection = TrafficDirection.Outbound,
            FilterChains = { chain },
        };
    }

    /// <summary>
    /// The route configuration <paramref name="name"/> as <paramref name="client"/> (a gateway workload) receives it:
    /// a virtual host (<c>host:port</c>) per host where a server of the route configuration and a bound
    /// VirtualService meet, with that VirtualService's rules whose matches name the Gateway (a match with query
    /// parameter or scheme conditions is left out, never widened); <c>require_tls: ALL</c> on the hosts of a server
    /// with <c>httpsRedirect</c>. Null when no server of the client uses the name.
    /// </summary>
    public static RouteConfiguration? BuildRouteConfiguration(MeshSnapshot snapshot, string name, ClientWorkload client)
    {
        var servers = new List<(IngressGateway Gateway, GatewayServer Server)>();
        foreach (var (_, onPort) in ServersFor(snapshot, client.Labels))
        {
            foreach (var pair in onPort)
            {
                if (RouteName(pair.Gateway, pair.Server) == name)
                {
                    servers.Add(pair);
                }
            }
        }

        if (servers.Count == 0)
        {
            return null;
        }

        var config = new RouteConfiguration { Name = name, ValidateClusters = false };
        var hosts = new Dictionary<string, VirtualHost>(StringComparer.Ordinal);
        var filled = new HashSet<(string Host, string VirtualService)>();
        foreach (var (gateway, server) in servers)
        {
            var served = new List<VirtualHost>();
            foreach (var bound in snapshot.GatewayRoutes)
            {
                if (!bound.Gateways.Contains(gateway.Key))
                {
                    continue;
                }

                foreach (var vsHost in bound.Hosts)
                {
                    foreach (var serverHost in server.Hosts)
                    {
                        if (!serverHost.Admits(bound.Namespace) || serverHost.Intersect(vsHost) is not { } host)
                        {
                            continue;
                        }

                        var vhost = VirtualHostFor(config, hosts, host, server.Port);
                        served.Add(vhost);
                        if (filled.Add((host, bound.Namespace + "/" + bound.Name)))
                        {
                            AddRoutes(snapshot, vhost, bound, gateway, server.Port, client);
                        }
                    }
                }
            }

            if (server.Tls is { HttpsRedirect: true })
            {
                foreach (var serverHost in server.Hosts)
                {
                    served.Add(VirtualHostFor(config, hosts, serverHost.Host, server.Port));
                }

                foreach (var vhost in served)
                {
                    vhost.RequireTls = VirtualHost.Types.TlsRequirementType.All;
                }
            }
        }

        return config;
    }

    private static VirtualHost VirtualHostFor(RouteConfiguration config, Dictionary<string, VirtualHost> hosts, string host, int port)
    {
        if (hosts.TryGetValue(host, out var existing))
        {
            return existing;
        }

        var portText = port.ToString(CultureInfo.InvariantCulture);
        var vhost = new VirtualHost { Name = host + ":" + portText };
        vhost.Domains.Add(host);
        if (host != "*")
        {
            vhost.Domains.Add(host + ":" + portText);
        }

        hosts.Add(host, vhost);
        config.VirtualHosts.Add(vhost);
        return vhost;
    }

    private static void AddRoutes(MeshSnapshot snapshot, VirtualHost vhost, GatewayVirtualService bound, IngressGateway gateway, int port, ClientWorkload client)
    {
        for (var i = 0; i < bound.Rules.Length; i++)
        {
            var rule = bound.Rules[i];
            var template = ProxylessTranslator.BuildRuleTemplate(snapshot, rule, port, rule.Name ?? $"{bound.Namespace}.{bound.Name}.{i.ToString(CultureInfo.InvariantCulture)}");
            if (rule.Matches.IsEmpty)
            {
                vhost.Routes.Add(ProxylessTranslator.WithMatch(template, rule, new RouteMatch { Prefix = "/" }, uri: null));
                continue;
            }

            // A rule whose every match is left out is left out whole: it never becomes a catch-all.
            foreach (var match in rule.Matches)
            {
                if (Applies(match, bound.Namespace, gateway, port, client))
                {
                    vhost.Routes.Add(ProxylessTranslator.WithMatch(template, rule, ProxylessTranslator.BuildMatch(match), match.Uri));
                }
            }
        }
    }

    private static bool Applies(RequestMatch match, string virtualServiceNamespace, IngressGateway gateway, int port, ClientWorkload client)
    {
        if ((match.Port is { } only && only != port) || !match.QueryParameters.IsEmpty || match.Scheme is not null)
        {
            return false;
        }

        var named = false;
        foreach (var written in match.Gateways)
        {
            named |= gateway.IsNamedBy(written, virtualServiceNamespace);
        }

        return named && (!match.DependsOnSource || match.MatchesSource(client.Namespace, client.Labels));
    }

    /// <summary>
    /// The whole configuration of an Envoy gateway (<c>router~…</c> node): the listeners and route configurations of
    /// the servers that select it, the outbound clusters as a sidecar gets them (SDS certificates), and the shared
    /// load assignments.
    /// </summary>
    public static XdsResourceSet TranslateForEnvoy(MeshSnapshot snapshot, XdsResourceSet shared, SidecarNode node, ClientWorkload client)
    {
        var workload = SidecarWorkload.Find(snapshot, node, client);
        var listeners = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        var routes = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        foreach (var (port, servers) in ServersFor(snapshot, workload.Labels))
        {
            var listener = BuildListener(port, servers);
            listeners.Add(listener.Name, new XdsResource(listener.Name, listener));
            foreach (var (gateway, server) in servers)
            {
                var routeName = RouteName(gateway, server);
                if (!routes.ContainsKey(routeName) && BuildRouteConfiguration(snapshot, routeName, new ClientWorkload(workload.Namespace, workload.Labels)) is { } config)
                {
                    routes.Add(routeName, new XdsResource(routeName, config));
                }
            }
        }

        var byType = ImmutableDictionary.CreateRange(StringComparer.Ordinal, new[]
        {
            KeyValuePair.Create(XdsTypeUrls.Listener, listeners.ToImmutable()),
            KeyValuePair.Create(XdsTypeUrls.RouteConfiguration, routes.ToImmutable()),
            KeyValuePair.Create(XdsTypeUrls.Cluster, SidecarClusters.Build(snapshot, shared.Of(XdsTypeUrls.Cluster), workload)),
            KeyValuePair.Create(XdsTypeUrls.ClusterLoadAssignment, shared.Of(XdsTypeUrls.ClusterLoadAssignment)),
        });
        return new XdsResourceSet(snapshot.Version, byType, static (_, _) => null);
    }
}
