using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// The security half of translation: the upstream TLS a cluster's clients use (DestinationRule <c>ISTIO_MUTUAL</c>,
/// or automatically when the destination's PeerAuthentication is STRICT), and the inbound listener an xDS-enabled
/// server asks for by its listening address (gRFC A36) — filter chains that follow PeerAuthentication, each with
/// an HTTP connection manager carrying the workload's AuthorizationPolicies as RBAC filters.
/// </summary>
public static class SecurityTranslator
{
    /// <summary>The name of the inbound filter chain that requires mutual TLS.</summary>
    public const string MtlsChainName = "inbound-mtls";

    /// <summary>The name of the inbound filter chain that accepts plaintext.</summary>
    public const string PlaintextChainName = "inbound-plaintext";

    /// <summary>
    /// The TLS transport socket for a cluster of <paramref name="service"/>'s <paramref name="port"/> (and
    /// <paramref name="subset"/>), or null when its clients connect in plaintext. Mutual TLS when the DestinationRule
    /// says <c>ISTIO_MUTUAL</c>, or, with no TLS setting, when any endpoint of the cluster requires it (STRICT);
    /// <c>DISABLE</c> turns it off. The expected server identities are the endpoints' service accounts.
    /// </summary>
    public static TransportSocket? UpstreamTls(MeshSnapshot snapshot, MeshService service, ServicePort port, SubsetPolicy? subset, TrafficPolicy traffic)
    {
        var mutual = traffic.TlsMode switch
        {
            "ISTIO_MUTUAL" => true,
            null => AnyEndpointStrict(snapshot, service, port, subset),
            _ => false,
        };
        if (!mutual)
        {
            return null;
        }

        var identities = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in service.Endpoints)
        {
            if (endpoint.Ports.ContainsKey(port.Number) && (subset is null || endpoint.Matches(subset.Labels)))
            {
                identities.Add(Identity(snapshot, service.Namespace, endpoint.ServiceAccount));
            }
        }

        var validation = new CertificateValidationContext
        {
            CaCertificateProviderInstance = RootProvider(),
        };
        foreach (var identity in identities)
        {
            validation.MatchTypedSubjectAltNames.Add(new SubjectAltNameMatcher
            {
                SanType = SubjectAltNameMatcher.Types.SanType.Uri,
                Matcher = new StringMatcher { Exact = identity },
            });
        }

        var context = new UpstreamTlsContext
        {
            CommonTlsContext = new CommonTlsContext
            {
                TlsCertificateProviderInstance = IdentityProvider(),
                CombinedValidationContext = new CommonTlsContext.Types.CombinedCertificateValidationContext { DefaultValidationContext = validation },
                AlpnProtocols = { "h2" },
            },
        };
        return new TransportSocket { Name = XdsSecurityNames.TlsTransportSocket, TypedConfig = Any.Pack(context) };
    }

    /// <summary>
    /// The inbound listener named <paramref name="name"/> for a server of <paramref name="workload"/> listening on
    /// <paramref name="host"/>:<paramref name="port"/>. STRICT: one chain that requires mutual TLS. PERMISSIVE: a
    /// chain for TLS connections (matched on transport protocol <c>tls</c>) and one for plaintext. DISABLE: plaintext.
    /// Every chain's connection manager runs the workload's RBAC filters, then the router.
    /// </summary>
    public static Listener BuildInboundListener(MeshSnapshot snapshot, ClientWorkload workload, string name, string host, int port, IReadOnlyList<Hcm.HttpFilter> authorizationFilters)
    {
        var mode = PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, workload.Namespace, workload.Labels, port);
        var listener = new Listener
        {
            Name = name,
            Address = new Address { SocketAddress = new SocketAddress { Address = host, PortValue = (uint)port } },
            TrafficDirection = TrafficDirection.Inbound,
        };

        var hcm = Any.Pack(BuildInboundConnectionManager(name, authorizationFilters));
        switch (mode)
        {
            case MtlsMode.Strict:
                listener.FilterChains.Add(MtlsChain(hcm, match: null));
                break;
            case MtlsMode.Disable:
                listener.FilterChains.Add(PlaintextChain(hcm, match: null));
                break;
            default:
                listener.FilterChains.Add(MtlsChain(hcm, new FilterChainMatch { TransportProtocol = XdsSecurityNames.TlsTransportProtocol }));
                listener.FilterChains.Add(PlaintextChain(hcm, match: null));
                break;
        }

        return listener;
    }

    /// <summary>The SPIFFE identity of a service account: <c>spiffe://&lt;trust-domain&gt;/ns/&lt;ns&gt;/sa/&lt;sa&gt;</c>.</summary>
    public static string Identity(MeshSnapshot snapshot, string ns, string serviceAccount) =>
        $"spiffe://{snapshot.TrustDomain}/ns/{ns}/sa/{serviceAccount}";

    private static bool AnyEndpointStrict(MeshSnapshot snapshot, MeshService service, ServicePort port, SubsetPolicy? subset)
    {
        if (snapshot.PeerAuthentications.IsEmpty)
        {
            return false;
        }

        foreach (var endpoint in service.Endpoints)
        {
            if (endpoint.Ports.TryGetValue(port.Number, out var target)
                && (subset is null || endpoint.Matches(subset.Labels))
                && PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, service.Namespace, endpoint.Labels, target) == MtlsMode.Strict)
            {
                return true;
            }
        }

        return false;
    }

    private static FilterChain MtlsChain(Any hcm, FilterChainMatch? match)
    {
        var context = new DownstreamTlsContext
        {
            CommonTlsContext = new CommonTlsContext
            {
                TlsCertificateProviderInstance = IdentityProvider(),
                ValidationContext = new CertificateValidationContext { CaCertificateProviderInstance = RootProvider() },
                AlpnProtocols = { "h2", "http/1.1" },
            },
            RequireClientCertificate = true,
        };
        var chain = PlaintextChain(hcm, match);
        chain.Name = MtlsChainName;
        chain.TransportSocket = new TransportSocket { Name = XdsSecurityNames.TlsTransportSocket, TypedConfig = Any.Pack(context) };
        return chain;
    }

    private static FilterChain PlaintextChain(Any hcm, FilterChainMatch? match)
    {
        var chain = new FilterChain
        {
            Name = PlaintextChainName,
            Filters = { new Filter { Name = "envoy.filters.network.http_connection_manager", TypedConfig = hcm } },
        };
        if (match is not null)
        {
            chain.FilterChainMatch = match;
        }

        return chain;
    }

    private static Hcm.HttpConnectionManager BuildInboundConnectionManager(string name, IReadOnlyList<Hcm.HttpFilter> authorizationFilters)
    {
        var hcm = new Hcm.HttpConnectionManager
        {
            StatPrefix = name,
            RouteConfig = new RouteConfiguration
            {
                Name = "inbound",
                VirtualHosts =
                {
                    new VirtualHost
                    {
                        Name = "inbound",
                        Domains = { "*" },
                        Routes = { new Route { Match = new RouteMatch { Prefix = "/" }, NonForwardingAction = new NonForwardingAction() } },
                    },
                },
            },
        };
        foreach (var filter in authorizationFilters)
        {
            hcm.HttpFilters.Add(filter);
        }

        hcm.HttpFilters.Add(new Hcm.HttpFilter { Name = ProxylessTranslator.RouterFilterName, TypedConfig = Any.Pack(new Router()) });
        return hcm;
    }

    private static CertificateProviderPluginInstance IdentityProvider() => new()
    {
        InstanceName = XdsSecurityNames.DefaultCertificateProvider,
        CertificateName = XdsSecurityNames.IdentityCertificateName,
    };

    private static CertificateProviderPluginInstance RootProvider() => new()
    {
        InstanceName = XdsSecurityNames.DefaultCertificateProvider,
        CertificateName = XdsSecurityNames.RootCertificateName,
    };
}
