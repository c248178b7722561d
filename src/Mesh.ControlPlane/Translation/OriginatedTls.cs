using Envoy.Config.Core.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Mesh.Xds;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// The TLS a proxyless client originates for a DestinationRule's <c>tls: SIMPLE</c> or <c>MUTUAL</c>. gRPC clients
/// take certificates only from certificate provider instances of their bootstrap (gRFC A29), so the roots come from
/// the instance named after the rule's <c>credentialName</c> (else its <c>caCertificates</c> path) and, for MUTUAL,
/// the client certificate from the instance named after <c>credentialName</c> (else <c>clientCertificate</c>). A client
/// without such an instance fails the cluster closed, naming it; it never falls back to plaintext.
/// </summary>
public static class OriginatedTls
{
    /// <summary>The transport socket for <paramref name="tls"/>, or null when its mode originates no TLS of its own (DISABLE, ISTIO_MUTUAL).</summary>
    public static TransportSocket? Build(UpstreamTlsSettings? tls)
    {
        if (tls is not { Mode: "SIMPLE" or "MUTUAL" })
        {
            return null;
        }

        var validation = new CertificateValidationContext
        {
            CaCertificateProviderInstance = new CertificateProviderPluginInstance { InstanceName = tls.RootProviderInstance, CertificateName = XdsSecurityNames.RootCertificateName },
        };
        foreach (var san in tls.SubjectAltNames)
        {
            validation.MatchTypedSubjectAltNames.Add(new SubjectAltNameMatcher
            {
                SanType = san.Contains("://", StringComparison.Ordinal) ? SubjectAltNameMatcher.Types.SanType.Uri : SubjectAltNameMatcher.Types.SanType.Dns,
                Matcher = new StringMatcher { Exact = san },
            });
        }

        var common = new CommonTlsContext
        {
            CombinedValidationContext = new CommonTlsContext.Types.CombinedCertificateValidationContext { DefaultValidationContext = validation },
        };
        if (tls.IdentityProviderInstance is { } identity)
        {
            common.TlsCertificateProviderInstance = new CertificateProviderPluginInstance { InstanceName = identity, CertificateName = XdsSecurityNames.IdentityCertificateName };
        }

        var context = new UpstreamTlsContext { CommonTlsContext = common };
        if (tls.Sni is { } sni)
        {
            context.Sni = sni;
        }

        return new TransportSocket { Name = XdsSecurityNames.TlsTransportSocket, TypedConfig = Any.Pack(context) };
    }
}
