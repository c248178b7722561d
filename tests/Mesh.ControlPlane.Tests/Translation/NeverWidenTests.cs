using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Translation;

/// <summary>
/// A condition a proxyless client cannot evaluate makes its match never match; source conditions are evaluated per
/// client; DestinationRule SIMPLE/MUTUAL originates TLS. Nothing is ever widened to a catch-all or to plaintext.
/// </summary>
public class NeverWidenTests
{
    private const string RouteName = "reviews.default.svc.cluster.local:9080";

    private static MeshSnapshot Build(string virtualService, string? destinationRule = null)
    {
        var read = YamlResourceReader.Read(TestYaml.ReviewsServiceEntry + "\n---\n" + (destinationRule ?? TestYaml.ReviewsDestinationRule) + "\n---\n" + virtualService, "in.yaml", "default");
        Assert.Empty(read.Errors);
        var built = MeshModelBuilder.Build(read.Resources, version: 1);
        Assert.Empty(built.Errors);
        return built.Snapshot!;
    }

    /// <summary>A VirtualService whose first rule (to v2) has <paramref name="match"/> (flow style) and whose second sends the rest to v1.</summary>
    private static string FirstRuleWith(string match) => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: [reviews]
          http:
          - name: special
            match: {{match}}
            route:
            - destination: {host: reviews, subset: v2}
          - name: rest
            route:
            - destination: {host: reviews, subset: v1}
        """;

    private static RouteConfiguration Routes(XdsResourceSet set, ClientWorkload client) =>
        (RouteConfiguration)set.Find(XdsTypeUrls.RouteConfiguration, RouteName, client)!.Message;

    private static string[] RouteNames(RouteConfiguration config) => [.. config.VirtualHosts[0].Routes.Select(r => r.Name)];

    [Theory]
    [InlineData("[{queryParams: {debug: {exact: '1'}}}]")]
    [InlineData("[{scheme: {exact: https}}]")]
    [InlineData("[{gateways: [ingress]}]")]
    [InlineData("[{uri: {prefix: /a}, queryParams: {debug: {exact: '1'}}}]")]
    public void Translate_MatchTheClientCannotEvaluate_RuleNeverMatchesInsteadOfCatchingAll(string match)
    {
        var set = ProxylessTranslator.Translate(Build(FirstRuleWith(match)));

        var routes = Routes(set, ClientWorkload.Default);
        Assert.Equal(["rest"], RouteNames(routes));
        Assert.Equal("outbound|9080|v1|reviews.default.svc.cluster.local", routes.VirtualHosts[0].Routes[0].Route_.Cluster);
    }

    [Fact]
    public void Translate_OneUnevaluableMatchBesideAnother_DropsOnlyThatMatch()
    {
        var set = ProxylessTranslator.Translate(Build(FirstRuleWith("[{queryParams: {debug: {exact: '1'}}}, {uri: {prefix: /b}}]")));

        var routes = Routes(set, ClientWorkload.Default).VirtualHosts[0].Routes;
        Assert.Equal(["special", "rest"], routes.Select(r => r.Name));
        Assert.Equal("/b", routes[0].Match.Prefix);
    }

    [Fact]
    public void Translate_SourceLabels_RuleOnlyForClientsWithThoseLabels()
    {
        var set = ProxylessTranslator.Translate(Build(FirstRuleWith("[{sourceLabels: {app: productpage}}]")));
        var productpage = new ClientWorkload("default", ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("app", "productpage"), KeyValuePair.Create("version", "v1")]));
        var other = new ClientWorkload("default", ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("app", "ratings")]));

        Assert.True(set.IsClientSpecific(XdsTypeUrls.RouteConfiguration, RouteName));
        Assert.Equal(["special", "rest"], RouteNames(Routes(set, productpage)));
        Assert.Equal("/", Routes(set, productpage).VirtualHosts[0].Routes[0].Match.Prefix);
        Assert.Equal(["rest"], RouteNames(Routes(set, other)));
        Assert.Equal(["rest"], RouteNames(Routes(set, ClientWorkload.Default)));

        // The version an unknown client gets (the shared one) leaves the source-dependent rule out too.
        Assert.Equal(["rest"], RouteNames((RouteConfiguration)set.Of(XdsTypeUrls.RouteConfiguration)[RouteName].Message));
        Assert.NotEqual(set.Find(XdsTypeUrls.RouteConfiguration, RouteName, productpage)!.Version, set.Find(XdsTypeUrls.RouteConfiguration, RouteName, other)!.Version);
    }

    [Fact]
    public void Translate_SourceNamespace_RuleOnlyForClientsInThatNamespace()
    {
        var set = ProxylessTranslator.Translate(Build(FirstRuleWith("[{sourceNamespace: frontend, uri: {prefix: /x}}]")));

        Assert.Equal(["special", "rest"], RouteNames(Routes(set, ClientWorkload.InNamespace("frontend"))));
        Assert.Equal(["rest"], RouteNames(Routes(set, ClientWorkload.InNamespace("default"))));
    }

    [Fact]
    public void Translate_VirtualServiceForMeshAndGateway_MatchWithMeshGatewayApplies()
    {
        var vs = FirstRuleWith("[{gateways: [mesh], uri: {prefix: /m}}, {gateways: [ingress], uri: {prefix: /g}}]").Replace("hosts: [reviews]", "hosts: [reviews]\n  gateways: [mesh, ingress]", StringComparison.Ordinal);
        const string Ingress = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress}
            spec:
              selector: {istio: ingressgateway}
              servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
            """;
        var routes = Routes(ProxylessTranslator.Translate(Build(vs + "\n---\n" + Ingress)), ClientWorkload.Default).VirtualHosts[0].Routes;

        Assert.Equal(["special", "rest"], routes.Select(r => r.Name));
        Assert.Equal("/m", routes[0].Match.Prefix);
    }

    [Fact]
    public void Translate_DestinationRuleTlsSimple_OriginatesTlsWithTheRulesCaSniAndSans()
    {
        var dr = TestYaml.ReviewsDestinationRuleWith("{tls: {mode: SIMPLE, caCertificates: /etc/certs/ca.pem, sni: reviews.example, subjectAltNames: [reviews.example, 'spiffe://example/ns/default/sa/reviews']}}");
        var set = ProxylessTranslator.Translate(Build(TestYaml.ReviewsRule(""), dr));

        var cluster = (Cluster)set.Of(XdsTypeUrls.Cluster)["outbound|9080||reviews.default.svc.cluster.local"].Message;
        var context = cluster.TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>();
        Assert.Equal("reviews.example", context.Sni);
        var validation = context.CommonTlsContext.CombinedValidationContext.DefaultValidationContext;
        Assert.Equal("/etc/certs/ca.pem", validation.CaCertificateProviderInstance.InstanceName);
        Assert.Equal(["reviews.example", "spiffe://example/ns/default/sa/reviews"], validation.MatchTypedSubjectAltNames.Select(m => m.Matcher.Exact));
        Assert.Equal(SubjectAltNameMatcher.Types.SanType.Dns, validation.MatchTypedSubjectAltNames[0].SanType);
        Assert.Equal(SubjectAltNameMatcher.Types.SanType.Uri, validation.MatchTypedSubjectAltNames[1].SanType);
        Assert.Null(context.CommonTlsContext.TlsCertificateProviderInstance);

        // The subsets inherit it: no cluster of the host is plaintext.
        Assert.All(set.Of(XdsTypeUrls.Cluster).Values, r => Assert.NotNull(((Cluster)r.Message).TransportSocket));
    }

    [Fact]
    public void Translate_DestinationRuleTlsMutualWithCredentialName_PresentsAndVerifiesWithThatCredential()
    {
        var dr = TestYaml.ReviewsDestinationRuleWith("{tls: {mode: MUTUAL, credentialName: reviews-client}}");
        var set = ProxylessTranslator.Translate(Build(TestYaml.ReviewsRule(""), dr));

        var cluster = (Cluster)set.Of(XdsTypeUrls.Cluster)["outbound|9080|v1|reviews.default.svc.cluster.local"].Message;
        var context = cluster.TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>();
        Assert.Equal("reviews-client", context.CommonTlsContext.TlsCertificateProviderInstance.InstanceName);
        Assert.Equal("reviews-client", context.CommonTlsContext.CombinedValidationContext.DefaultValidationContext.CaCertificateProviderInstance.InstanceName);
    }

    [Fact]
    public void Build_DestinationRuleTlsMutualWithoutClientCertificate_ErrorNamesTheField()
    {
        var read = YamlResourceReader.Read(TestYaml.ReviewsServiceEntry + "\n---\n" + TestYaml.ReviewsDestinationRuleWith("{tls: {mode: MUTUAL, caCertificates: /ca.pem}}"), "dr.yaml", "default");

        var result = MeshModelBuilder.Build(read.Resources, version: 1);

        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.Equal("spec.trafficPolicy.tls", error.Field);
        Assert.Contains("MUTUAL needs credentialName, or clientCertificate and privateKey", error.Message, StringComparison.Ordinal);
    }
}
