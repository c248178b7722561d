using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Translation;

/// <summary>
/// DestinationRule <c>localityLbSetting</c> translated per client locality as istiod does (priorities relative to the
/// client, failover only with outlier detection, distribute → locality weights), and warmup → slow start.
/// </summary>
public class LocalityLoadBalancingTests
{
    private const string ClusterName = "outbound|9080||reviews.default.svc.cluster.local";

    private const string Endpoints = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          resolution: STATIC
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          endpoints:
          - {address: 10.0.0.1, labels: {version: v1}, locality: us-east/zone-a}
          - {address: 10.0.0.2, labels: {version: v2}, locality: us-east/zone-a}
          - {address: 10.0.1.1, labels: {version: v1}, locality: us-east/zone-b}
          - {address: 10.0.2.1, labels: {version: v1}, locality: us-west/zone-c}
          - {address: 10.0.3.1, labels: {version: v1}, locality: eu-north/zone-d}
        """;

    private static ClientWorkload ClientIn(string locality, params (string Key, string Value)[] labels) =>
        new("default", ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, labels.Select(l => KeyValuePair.Create(l.Key, l.Value))))
        {
            Locality = Locality.Parse(locality),
        };

    private static XdsResourceSet Translate(string trafficPolicy)
    {
        var rule = $"""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {"{"}name: reviews{"}"}
            spec:
              host: reviews
              trafficPolicy: {trafficPolicy}
            """;
        var read = YamlResourceReader.Read(Endpoints + "\n---\n" + rule, "in.yaml", "default");
        Assert.Empty(read.Errors);
        var built = MeshModelBuilder.Build(read.Resources, version: 1);
        Assert.Empty(built.Errors);
        return MeshTranslator.Translate(built.Snapshot!);
    }

    private static ClusterLoadAssignment For(XdsResourceSet set, ClientWorkload client) =>
        (ClusterLoadAssignment)set.Find(XdsTypeUrls.ClusterLoadAssignment, ClusterName, client)!.Message;

    private static Dictionary<string, uint> Priorities(ClusterLoadAssignment assignment) =>
        assignment.Endpoints.ToDictionary(g => g.Locality.Region + "/" + g.Locality.Zone, g => g.Priority);

    [Fact]
    public void Translate_OutlierDetectionWithoutSetting_PrioritiesFollowTheClientsLocality()
    {
        var set = Translate("{outlierDetection: {consecutive5xxErrors: 1}}");

        var fromZoneA = Priorities(For(set, ClientIn("us-east/zone-a")));
        var fromZoneB = Priorities(For(set, ClientIn("us-east/zone-b")));

        // Same zone 0, same region 1, other regions 2 (Istio's 0/2/3, renumbered without gaps).
        Assert.Equal(new Dictionary<string, uint> { ["us-east/zone-a"] = 0, ["us-east/zone-b"] = 1, ["us-west/zone-c"] = 2, ["eu-north/zone-d"] = 2 }, fromZoneA);
        Assert.Equal(new Dictionary<string, uint> { ["us-east/zone-a"] = 1, ["us-east/zone-b"] = 0, ["us-west/zone-c"] = 2, ["eu-north/zone-d"] = 2 }, fromZoneB);

        // The shared copy (unknown clients) keeps every locality at priority 0.
        Assert.All(((ClusterLoadAssignment)set.Of(XdsTypeUrls.ClusterLoadAssignment)[ClusterName].Message).Endpoints, g => Assert.Equal(0u, g.Priority));
        Assert.True(set.IsClientSpecific(XdsTypeUrls.ClusterLoadAssignment, ClusterName));
    }

    [Fact]
    public void Translate_FailoverFromRegion_OnlyTheNamedRegionComesBeforeTheRest()
    {
        var set = Translate("{loadBalancer: {localityLbSetting: {failover: [{from: us-east, to: eu-north}]}}, outlierDetection: {consecutive5xxErrors: 1}}");

        var priorities = Priorities(For(set, ClientIn("us-east/zone-a")));

        Assert.Equal(new Dictionary<string, uint> { ["us-east/zone-a"] = 0, ["us-east/zone-b"] = 1, ["eu-north/zone-d"] = 2, ["us-west/zone-c"] = 3 }, priorities);
    }

    [Fact]
    public void Translate_FailoverWithoutOutlierDetection_NotApplied()
    {
        var set = Translate("{loadBalancer: {localityLbSetting: {failover: [{from: us-east, to: eu-north}]}}}");

        Assert.False(set.IsClientSpecific(XdsTypeUrls.ClusterLoadAssignment, ClusterName));
        Assert.All(For(set, ClientIn("us-east/zone-a")).Endpoints, g => Assert.Equal(0u, g.Priority));
    }

    [Fact]
    public void Translate_Disabled_NoPrioritiesEvenWithOutlierDetection()
    {
        var set = Translate("{loadBalancer: {localityLbSetting: {enabled: false}}, outlierDetection: {consecutive5xxErrors: 1}}");

        Assert.All(For(set, ClientIn("us-east/zone-a")).Endpoints, g => Assert.Equal(0u, g.Priority));
    }

    [Fact]
    public void Translate_ClientWithoutLocality_GetsTheSharedAssignment()
    {
        var set = Translate("{outlierDetection: {consecutive5xxErrors: 1}}");

        Assert.Same(set.Of(XdsTypeUrls.ClusterLoadAssignment)[ClusterName].Message, set.Find(XdsTypeUrls.ClusterLoadAssignment, ClusterName, ClientWorkload.Default)!.Message);
    }

    [Fact]
    public void Translate_Distribute_LocalityWeightsFromTheMatchingRuleAndTheRestRemoved()
    {
        var set = Translate("""
            {loadBalancer: {localityLbSetting: {distribute: [
              {from: "us-east/zone-a/*", to: {"us-east/zone-a/*": 80, "us-east/zone-b/*": 20}},
              {from: "us-east/*", to: {"us-west/*": 100}}]}}}
            """);

        var fromA = For(set, ClientIn("us-east/zone-a")).Endpoints.ToDictionary(g => g.Locality.Zone, g => (g.LoadBalancingWeight, g.Priority));
        var fromB = For(set, ClientIn("us-east/zone-b")).Endpoints.ToDictionary(g => g.Locality.Zone, g => g.LoadBalancingWeight);

        // Zone A has two endpoints (weight 2), zone B one: each gets the rule's share; other localities get nothing.
        Assert.Equal(new Dictionary<string, (uint?, uint)> { ["zone-a"] = (80, 0), ["zone-b"] = (20, 0) }, fromA);
        Assert.Equal(new Dictionary<string, uint?> { ["zone-c"] = 100 }, fromB);
    }

    [Fact]
    public void Translate_DistributeWildcardOverSeveralLocalities_SplitsTheShareByTheirWeights()
    {
        var set = Translate("""{loadBalancer: {localityLbSetting: {distribute: [{from: "*", to: {"us-east/*": 90, "us-west/*": 10}}]}}}""");

        var weights = For(set, ClientIn("eu-north/zone-d")).Endpoints.ToDictionary(g => g.Locality.Zone, g => g.LoadBalancingWeight);

        // us-east: zone-a weight 2 and zone-b weight 1 share 90 → ceil(60), ceil(30).
        Assert.Equal(new Dictionary<string, uint?> { ["zone-a"] = 60, ["zone-b"] = 30, ["zone-c"] = 10 }, weights);
    }

    [Fact]
    public void Translate_FailoverPriority_EndpointsSharingTheClientsLabelsComeFirst()
    {
        var set = Translate("{loadBalancer: {localityLbSetting: {failoverPriority: [version, topology.kubernetes.io/region]}}, outlierDetection: {consecutive5xxErrors: 1}}");

        var assignment = For(set, ClientIn("us-east/zone-a", ("version", "v1")));
        var byAddress = assignment.Endpoints
            .SelectMany(g => g.LbEndpoints.Select(e => (e.Endpoint.Address.SocketAddress.Address, g.Priority)))
            .ToDictionary(p => p.Address, p => p.Priority);

        // v1 in us-east: 0; v1 elsewhere: 1 (region differs); v2: 2 (the first label differs).
        Assert.Equal(0u, byAddress["10.0.0.1"]);
        Assert.Equal(0u, byAddress["10.0.1.1"]);
        Assert.Equal(1u, byAddress["10.0.2.1"]);
        Assert.Equal(1u, byAddress["10.0.3.1"]);
        Assert.Equal(2u, byAddress["10.0.0.2"]);
        Assert.All(assignment.Endpoints, g => Assert.Equal((uint)g.LbEndpoints.Count, g.LoadBalancingWeight));
    }

    [Fact]
    public void Translate_Sidecar_GetsPrioritiesForItsOwnLocality()
    {
        var set = Translate("{outlierDetection: {consecutive5xxErrors: 1}}");
        var node = new Envoy.Config.Core.V3.Node
        {
            Id = "sidecar~10.9.9.9~client.default~default.svc.cluster.local",
            Locality = new Envoy.Config.Core.V3.Locality { Region = "us-east", Zone = "zone-b" },
        };
        var client = ClientWorkload.FromNode(node, "default");

        var sidecar = set.ForClient(node, client);
        var assignment = (ClusterLoadAssignment)sidecar.Find(XdsTypeUrls.ClusterLoadAssignment, ClusterName, client)!.Message;

        Assert.Equal(0u, assignment.Endpoints.Single(g => g.Locality.Zone == "zone-b").Priority);
        Assert.Equal(1u, assignment.Endpoints.Single(g => g.Locality.Zone == "zone-a").Priority);
    }

    [Fact]
    public void FromNode_Locality_IsPartOfTheWorkloadAndItsKey()
    {
        var node = new Envoy.Config.Core.V3.Node { Id = "a", Locality = new Envoy.Config.Core.V3.Locality { Region = "r", Zone = "z" } };

        var client = ClientWorkload.FromNode(node, "default");

        Assert.Equal(new Locality("r", "z", string.Empty), client.Locality);
        Assert.NotEqual(ClientWorkload.Default.Key, client.Key);
    }

    [Fact]
    public void Translate_LocalityScenario_ClientInZoneAMatchesGoldenFile()
    {
        var scenario = Path.Combine(SourceDirectory(), "testassets", "locality-lb");
        var read = YamlResourceReader.Read(File.ReadAllText(Path.Combine(scenario, "input.yaml")), "input.yaml", "default");
        Assert.Empty(read.Errors);
        var built = MeshModelBuilder.Build(read.Resources, version: 1);
        Assert.Empty(built.Errors);
        var set = MeshTranslator.Translate(built.Snapshot!);
        var client = ClientIn("us-east/zone-a");

        var list = new System.Text.Json.Nodes.JsonArray();
        foreach (var name in set.Of(XdsTypeUrls.ClusterLoadAssignment).Keys.Order(StringComparer.Ordinal))
        {
            list.Add(System.Text.Json.Nodes.JsonNode.Parse(Formatter.Format(set.Find(XdsTypeUrls.ClusterLoadAssignment, name, client)!.Packed)));
        }

        var actual = new System.Text.Json.Nodes.JsonObject { ["endpoints"] = list }
            .ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
        var expectedPath = Path.Combine(scenario, "expected-us-east-zone-a.json");
        if (Environment.GetEnvironmentVariable("MESH_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(expectedPath, actual);
        }

        Assert.True(File.Exists(expectedPath), $"{expectedPath} is missing; run with MESH_UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(expectedPath).ReplaceLineEndings("\n"), actual);
    }

    private static readonly Google.Protobuf.JsonFormatter Formatter = new(Google.Protobuf.JsonFormatter.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default));

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(Path.GetDirectoryName(path))!;

    [Fact]
    public void Translate_WarmupDurationSecs_RoundRobinSlowStart()
    {
        var set = Translate("{loadBalancer: {simple: ROUND_ROBIN, warmupDurationSecs: 30s}}");

        var cluster = (Cluster)set.Of(XdsTypeUrls.Cluster)[ClusterName].Message;

        Assert.Equal(Cluster.LbConfigOneofCase.RoundRobinLbConfig, cluster.LbConfigCase);
        Assert.Equal(30, cluster.RoundRobinLbConfig.SlowStartConfig.SlowStartWindow.Seconds);
        Assert.Null(cluster.RoundRobinLbConfig.SlowStartConfig.Aggression);
    }

    [Fact]
    public void Translate_WarmupObjectWithLeastRequest_LeastRequestSlowStartWithItsParameters()
    {
        var set = Translate("{loadBalancer: {simple: LEAST_REQUEST, warmup: {duration: 1m, minimumPercent: 5, aggression: 2}}}");

        var slowStart = ((Cluster)set.Of(XdsTypeUrls.Cluster)[ClusterName].Message).LeastRequestLbConfig.SlowStartConfig;

        Assert.Equal(60, slowStart.SlowStartWindow.Seconds);
        Assert.Equal(5, slowStart.MinWeightPercent.Value);
        Assert.Equal(2, slowStart.Aggression.DefaultValue);
        Assert.NotEmpty(slowStart.Aggression.RuntimeKey);
    }

    [Theory]
    [InlineData("{loadBalancer: {warmupDurationSecs: 10s, warmup: {duration: 10s}}}", "spec.trafficPolicy.loadBalancer")]
    [InlineData("{loadBalancer: {warmup: {duration: 10s, aggression: 0.5}}}", "spec.trafficPolicy.loadBalancer.warmup.aggression")]
    [InlineData("{loadBalancer: {warmup: {duration: 10s, minimumPercent: 120}}}", "spec.trafficPolicy.loadBalancer.warmup.minimumPercent")]
    [InlineData("{loadBalancer: {warmup: {minimumPercent: 10}}}", "spec.trafficPolicy.loadBalancer.warmup.duration")]
    [InlineData("{loadBalancer: {warmupDurationSecs: 0s}}", "spec.trafficPolicy.loadBalancer.warmupDurationSecs")]
    public void Build_BadWarmup_ErrorNamesTheField(string trafficPolicy, string field)
    {
        var rule = $"""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {"{"}name: reviews{"}"}
            spec:
              host: reviews
              trafficPolicy: {trafficPolicy}
            """;
        var read = YamlResourceReader.Read(Endpoints + "\n---\n" + rule, "in.yaml", "default");

        var built = MeshModelBuilder.Build(read.Resources, version: 1);

        Assert.Contains(built.Errors, e => e.Field == field);
        Assert.Null(built.Snapshot);
    }
}
