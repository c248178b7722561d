using Envoy.Config.Core.V3;
using Envoy.Extensions.TransportSockets.RawBuffer.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Mesh.Xds;

namespace Mesh.ControlPlane.Translation.Sidecar;

/// <summary>
/// The TLS contexts of an Envoy sidecar's mesh mTLS: certificates by SDS (<c>default</c>, <c>ROOTCA</c>) from the
/// <c>sds-grpc</c> bootstrap cluster, TLS 1.2 to 1.3, and Istio's ALPN values.
/// </summary>
public static class SidecarTls
{
    /// <summary>The ALPN an Envoy client offers on ISTIO_MUTUAL: Istio's values, then <c>h2</c> for HTTP/2 clusters.</summary>
    public static IReadOnlyList<string> UpstreamAlpn(bool http2) => http2 ? ["istio-peer-exchange", "istio", "h2"] : ["istio-peer-exchange", "istio"];

    /// <summary>An SDS reference to <paramref name="name"/>.</summary>
    public static SdsSecretConfig Sds(string name) => new()
    {
        Name = name,
        SdsConfig = new ConfigSource
        {
            ApiConfigSource = new ApiConfigSource
            {
                ApiType = ApiConfigSource.Types.ApiType.Grpc,
                TransportApiVersion = ApiVersion.V3,
                SetNodeOnFirstMessageOnly = true,
                GrpcServices = { new GrpcService { EnvoyGrpc = new GrpcService.Types.EnvoyGrpc { ClusterName = SidecarNames.SdsCluster } } },
            },
            InitialFetchTimeout = new Duration(),
            ResourceApiVersion = ApiVersion.V3,
        },
    };

    /// <summary>
    /// The ISTIO_MUTUAL socket a client uses to reach <paramref name="identities"/> (SPIFFE IDs, matched exactly
    /// as URI SANs) with SNI <paramref name="sni"/>.
    /// </summary>
    public static TransportSocket Upstream(string sni, IEnumerable<string> identities, bool http2)
    {
        var validation = new CertificateValidationContext();
        foreach (var identity in identities)
        {
            validation.MatchTypedSubjectAltNames.Add(new SubjectAltNameMatcher
            {
                SanType = SubjectAltNameMatcher.Types.SanType.Uri,
                Matcher = new StringMatcher { Exact = identity },
            });
        }

        var common = Common(validation);
        common.AlpnProtocols.AddRange(UpstreamAlpn(http2));
        var context = new UpstreamTlsContext { CommonTlsContext = common, Sni = sni };
        return new TransportSocket { Name = XdsSecurityNames.TlsTransportSocket, TypedConfig = Any.Pack(context) };
    }

    /// <summary>The server side of mesh mTLS on an inbound chain: a client certificate is required and checked against ROOTCA.</summary>
    public static TransportSocket Downstream(bool http)
    {
        var common = Common(new CertificateValidationContext());
        if (http)
        {
            common.AlpnProtocols.Add("h2");
            common.AlpnProtocols.Add("http/1.1");
        }

        var context = new DownstreamTlsContext { CommonTlsContext = common, RequireClientCertificate = true };
        return new TransportSocket { Name = XdsSecurityNames.TlsTransportSocket, TypedConfig = Any.Pack(context) };
    }

    /// <summary>
    /// Whether <paramref name="endpoint"/> of <paramref name="service"/> serves mesh mTLS on <paramref name="targetPort"/>,
    /// so that clients with auto-mTLS use it: its PeerAuthentication is STRICT there, or its pod carries
    /// <c>security.istio.io/tlsMode: istio</c> (set by sidecar injection) and the port's mode is not DISABLE.
    /// </summary>
    public static bool ServesMeshMtls(MeshSnapshot snapshot, MeshService service, ServiceEndpoint endpoint, int targetPort)
    {
        var labelled = endpoint.Labels.TryGetValue(SidecarNames.TlsModeLabel, out var mode) && mode == "istio";
        if (snapshot.PeerAuthentications.IsEmpty)
        {
            return labelled;
        }

        return PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, service.Namespace, endpoint.Labels, targetPort) switch
        {
            MtlsMode.Strict => true,
            MtlsMode.Disable => false,
            _ => labelled,
        };
    }

    /// <summary>The plaintext socket.</summary>
    public static TransportSocket RawBuffer() => new() { Name = SidecarNames.RawBufferSocket, TypedConfig = Any.Pack(new RawBuffer()) };

    private static CommonTlsContext Common(CertificateValidationContext validation) => new()
    {
        TlsParams = new TlsParameters
        {
            TlsMinimumProtocolVersion = TlsParameters.Types.TlsProtocol.Tlsv12,
            TlsMaximumProtocolVersion = TlsParameters.Types.TlsProtocol.Tlsv13,
        },
        TlsCertificateSdsSecretConfigs = { Sds(SidecarNames.WorkloadSecret) },
        CombinedValidationContext = new CommonTlsContext.Types.CombinedCertificateValidationContext
        {
            DefaultValidationContext = validation,
            ValidationContextSdsSecretConfig = Sds(SidecarNames.RootSecret),
        },
    };
}
