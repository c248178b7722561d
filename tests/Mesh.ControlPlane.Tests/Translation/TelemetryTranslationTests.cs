using System.Collections.Immutable;
using Envoy.Config.Listener.V3;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.ControlPlane.Tests.Translation;

/// <summary>
/// Telemetry's trace sampling reaches each workload in its listeners' connection manager (<c>tracing.random_sampling</c>),
/// with Istio's precedence (workload over namespace over the root namespace, per mode); the fields Mesh does not apply
/// are reported as not applied, each with its field.
/// </summary>
public class TelemetryTranslationTests
{
    private const string Telemetries = """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          tracing: [{randomSamplingPercentage: 1}]
          accessLogging: [{providers: [{name: envoy}]}]
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: namespace-wide, namespace: default}
        spec:
          tracing:
          - randomSamplingPercentage: 25
            providers: [{name: zipkin}]
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: reviews-server, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          tracing:
          - match: {mode: SERVER}
            randomSamplingPercentage: 100
          metrics: [{overrides: [{match: {metric: REQUEST_COUNT}, disabled: true}]}]
        """;

    private static readonly ClientWorkload Productpage = new("default", ImmutableSortedDictionary<string, string>.Empty.Add("app", "productpage"));
    private static readonly ClientWorkload Reviews = new("default", ImmutableSortedDictionary<string, string>.Empty.Add("app", "reviews"));
    private static readonly ClientWorkload Elsewhere = ClientWorkload.InNamespace("shop");

    [Fact]
    public void Translate_TelemetrySampling_EachWorkloadsListenersCarryItsPercentage()
    {
        var set = MeshTranslator.Translate(Build(Telemetries).Snapshot!);

        Assert.Equal(25, ClientSampling(set, Productpage)); // namespace-wide
        Assert.Equal(25, ClientSampling(set, Reviews)); // its own Telemetry sets the server side only: the client side inherits
        Assert.Equal(1, ClientSampling(set, Elsewhere)); // the root namespace's
        Assert.Equal(100, ServerSampling(set, Reviews));
        Assert.Equal(25, ServerSampling(set, Productpage));
        Assert.Equal(1, ServerSampling(set, Elsewhere));

        var hcm = ClientHcm(set, Productpage);
        Assert.Equal(100, hcm.Tracing.ClientSampling.Value);
        Assert.Equal(100, hcm.Tracing.OverallSampling.Value);
    }

    [Fact]
    public void Translate_NoTelemetry_ListenersHaveNoTracing()
    {
        var set = MeshTranslator.Translate(Build().Snapshot!);

        Assert.Null(ClientHcm(set, Productpage).Tracing);
        Assert.Null(ServerSampling(set, Reviews));
    }

    [Fact]
    public void Build_TelemetryFieldsMeshDoesNotApply_ReportedFieldByFieldAndSamplingStillApplied()
    {
        var result = Build(Telemetries);

        Assert.Empty(result.Errors);
        var notices = result.Snapshot!.NotApplied.Select(n => (n.Resource, n.Field)).ToList();
        Assert.Contains(("Telemetry istio-system/mesh-default", "spec.accessLogging"), notices);
        Assert.Contains(("Telemetry default/namespace-wide", "spec.tracing[0].providers"), notices);
        Assert.Contains(("Telemetry default/reviews-server", "spec.metrics"), notices);
        Assert.Equal(3, notices.Count);
        Assert.All(result.Snapshot.NotApplied, n => Assert.StartsWith(MeshModelBuilder.NotAppliedPrefix, n.Message, StringComparison.Ordinal));
        Assert.Equal(3, result.Snapshot.Telemetries.Length);
    }

    [Theory]
    [InlineData("randomSamplingPercentage: 101", "spec.tracing[0].randomSamplingPercentage")]
    [InlineData("randomSamplingPercentage: -1", "spec.tracing[0].randomSamplingPercentage")]
    [InlineData("{match: {mode: BOTH}, randomSamplingPercentage: 5}", "spec.tracing[0].match.mode")]
    public void Build_InvalidTracing_IsAnErrorNamingTheField(string entry, string field)
    {
        var result = Build($$"""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: bad, namespace: default}
            spec:
              tracing:
              - {{entry}}
            """);

        Assert.Null(result.Snapshot);
        Assert.Contains(result.Errors, e => e.Field == field && e.Resource == "Telemetry default/bad");
    }

    private static MeshBuildResult Build(params string[] documents)
    {
        var read = YamlResourceReader.Read(string.Join("\n---\n", [TestYaml.ReviewsServiceEntry, .. documents]), "in.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    private static Hcm.HttpConnectionManager ClientHcm(XdsResourceSet set, ClientWorkload client)
    {
        var listener = (Listener)set.Find(XdsTypeUrls.Listener, "reviews.default.svc.cluster.local:9080", client)!.Message;
        return listener.ApiListener.ApiListener_.Unpack<Hcm.HttpConnectionManager>();
    }

    private static double? ClientSampling(XdsResourceSet set, ClientWorkload client) => ClientHcm(set, client).Tracing?.RandomSampling?.Value;

    private static double? ServerSampling(XdsResourceSet set, ClientWorkload client)
    {
        var name = XdsSecurityNames.ServerListenerName("127.0.0.1", 20001, null);
        var listener = (Listener)set.Find(XdsTypeUrls.Listener, name, client)!.Message;
        var values = listener.FilterChains.Select(c => c.Filters[0].TypedConfig.Unpack<Hcm.HttpConnectionManager>().Tracing?.RandomSampling?.Value).Distinct().ToList();
        return Assert.Single(values);
    }
}
