using System.Collections.Immutable;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Security;

public class PeerAuthenticationTests
{
    private const string Reviews = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          resolution: STATIC
          ports:
          - {number: 9080, name: grpc, protocol: GRPC}
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: 20001}, labels: {app: reviews}, serviceAccount: reviews}
        """;

    private static MeshBuildResult Build(string yaml)
    {
        var read = YamlResourceReader.Read(yaml, "security.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    private static MeshSnapshot Snapshot(string yaml)
    {
        var result = Build(yaml);
        Assert.Empty(result.Errors);
        return result.Snapshot!;
    }

    private static string Policy(string ns, string name, string body) => $"""
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {"{"}name: {name}, namespace: {ns}{"}"}
        spec:
        {body}
        """;

    private static readonly ImmutableDictionary<string, string> ReviewsLabels = ImmutableDictionary<string, string>.Empty.Add("app", "reviews");

    [Fact]
    public void Resolve_NoPolicy_IsPermissive()
    {
        var snapshot = Snapshot(Reviews);
        Assert.Equal(MtlsMode.Permissive, PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, "default", ReviewsLabels, 20001));
    }

    [Fact]
    public void Resolve_WorkloadOverNamespaceOverMesh_WithPortLevelAndUnsetInheriting()
    {
        var snapshot = Snapshot(string.Join("\n---\n",
            Policy("istio-system", "mesh", "  mtls: {mode: STRICT}"),
            Policy("default", "ns", "  mtls: {mode: DISABLE}"),
            Policy("default", "reviews", "  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: UNSET}\n  portLevelMtls:\n    '8080': {mode: STRICT}"),
            Policy("other", "ns", "  mtls: {mode: UNSET}")));

        // The workload policy is UNSET, so the namespace's DISABLE holds, except on the port it names.
        Assert.Equal(MtlsMode.Disable, PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, "default", ReviewsLabels, 20001));
        Assert.Equal(MtlsMode.Strict, PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, "default", ReviewsLabels, 8080));

        // Another workload in default: namespace-wide DISABLE. In "other" (UNSET): the mesh's STRICT.
        Assert.Equal(MtlsMode.Disable, PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, "default", ImmutableDictionary<string, string>.Empty, 8080));
        Assert.Equal(MtlsMode.Strict, PeerAuthenticationPolicy.Resolve(snapshot.PeerAuthentications, "other", ReviewsLabels, 20001));
    }

    [Theory]
    [InlineData("  mtls: {mode: STRIKT}", "spec.mtls.mode", "STRIKT")]
    [InlineData("  portLevelMtls:\n    '9080': {mode: STRICT}", "spec.portLevelMtls", "selector")]
    [InlineData("  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    http: {mode: STRICT}", "spec.portLevelMtls[http]", "port number")]
    [InlineData("  mtls: {mode: STRICT, extra: 1}", "spec.mtls.extra", "unknown field")]
    public void Build_BadPeerAuthentication_NamesResourceAndField(string body, string field, string message)
    {
        var result = Build(Reviews + "\n---\n" + Policy("default", "bad", body));

        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.Equal("PeerAuthentication default/bad", error.Resource);
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("security.yaml:", error.Origin, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("STRICT", new[] { SecurityTranslator.MtlsChainName })]
    [InlineData("PERMISSIVE", new[] { SecurityTranslator.MtlsChainName, SecurityTranslator.PlaintextChainName })]
    [InlineData("DISABLE", new[] { SecurityTranslator.PlaintextChainName })]
    public void InboundListener_FollowsModeOfTheAskingWorkload(string mode, string[] chains)
    {
        var snapshot = Snapshot(Reviews + "\n---\n" + Policy("default", "reviews", $"  selector: {{matchLabels: {{app: reviews}}}}\n  mtls: {{mode: {mode}}}"));
        var set = ProxylessTranslator.Translate(snapshot);
        var name = XdsSecurityNames.ServerListenerName("127.0.0.1", 20001);

        var workload = new ClientWorkload("default", ImmutableSortedDictionary<string, string>.Empty.Add("app", "reviews"));
        var listener = (Listener)set.Find(XdsTypeUrls.Listener, name, workload)!.Message;

        Assert.Equal(name, listener.Name);
        Assert.Equal(20001u, listener.Address.SocketAddress.PortValue);
        Assert.Equal(chains, listener.FilterChains.Select(c => c.Name));
        foreach (var chain in listener.FilterChains)
        {
            var tls = chain.TransportSocket?.TypedConfig.Unpack<DownstreamTlsContext>();
            Assert.Equal(chain.Name == SecurityTranslator.MtlsChainName, tls is not null);
            if (tls is not null)
            {
                Assert.True(tls.RequireClientCertificate);
                Assert.Equal(XdsSecurityNames.DefaultCertificateProvider, tls.CommonTlsContext.TlsCertificateProviderInstance.InstanceName);
            }
        }

        // A workload the selector does not match gets the default, PERMISSIVE.
        var other = (Listener)set.Find(XdsTypeUrls.Listener, name, ClientWorkload.Default)!.Message;
        Assert.Equal(2, other.FilterChains.Count);
    }

    [Fact]
    public void Find_NameThatIsNoListener_ReturnsNull()
    {
        var set = ProxylessTranslator.Translate(Snapshot(Reviews));
        Assert.Null(set.Find(XdsTypeUrls.Listener, "grpc/server?xds.resource.listening_address=nonsense", ClientWorkload.Default));
    }
}
