using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Model;

public class DestinationRuleExtrasTests
{
    private static MeshBuildResult Build(string trafficPolicy)
    {
        var read = YamlResourceReader.Read(TestYaml.ReviewsServiceEntry + "\n---\n" + TestYaml.ReviewsDestinationRuleWith(trafficPolicy), "dr.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    private static ConfigError SingleError(string trafficPolicy)
    {
        var result = Build(trafficPolicy);
        Assert.Null(result.Snapshot);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Build_LocalityFailoverAndDistribute_ErrorNamesLocalityLbSetting()
    {
        var error = SingleError("{loadBalancer: {localityLbSetting: {failover: [{from: us-east, to: us-west}], distribute: [{from: us-east/*, to: {us-east/*: 100}}]}}}");

        Assert.Equal("spec.trafficPolicy.loadBalancer.localityLbSetting", error.Field);
        Assert.Contains("not both", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_LocalityDistributeNotSummingTo100_ErrorNamesEntry()
    {
        var error = SingleError("{loadBalancer: {localityLbSetting: {distribute: [{from: us-east/*, to: {us-east/*: 60, us-west/*: 30}}]}}}");

        Assert.Equal("spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0]", error.Field);
    }

    [Fact]
    public void Build_TwoHashKeys_ErrorNamesConsistentHash()
    {
        var error = SingleError("{loadBalancer: {consistentHash: {httpHeaderName: x-user, useSourceIp: true}}}");

        Assert.Equal("spec.trafficPolicy.loadBalancer.consistentHash", error.Field);
    }

    [Fact]
    public void Build_PortLevelSettings_LayOverTheServicePolicyForThatPortOnly()
    {
        var policy = Build("{connectionPool: {http: {http2MaxRequests: 100}}, outlierDetection: {consecutive5xxErrors: 3}, portLevelSettings: [{port: {number: 9080}, loadBalancer: {simple: LEAST_REQUEST}}]}")
            .Snapshot!.Policies["reviews.default.svc.cluster.local"];

        var port = policy.Traffic.ForPort(9080);
        Assert.Equal(LoadBalancerKind.LeastRequest, port.LoadBalancer);
        Assert.Equal(100, port.MaxRequests);
        Assert.Equal(3u, port.Outlier!.Consecutive5xxErrors);
        Assert.Equal(LoadBalancerKind.RoundRobin, policy.Traffic.ForPort(1234).LoadBalancer);

        // Subsets inherit the port-level settings too.
        Assert.Equal(LoadBalancerKind.LeastRequest, policy.Subsets[0].Traffic.ForPort(9080).LoadBalancer);
    }

    [Fact]
    public void Build_WarmupDuration_IsKeptAndApplied()
    {
        var result = Build("{loadBalancer: {simple: ROUND_ROBIN, warmupDurationSecs: 30s}}");

        Assert.Equal(TimeSpan.FromSeconds(30), result.Snapshot!.Policies["reviews.default.svc.cluster.local"].Traffic.Warmup);
        Assert.DoesNotContain(result.Warnings, w => w.Field?.Contains("warmup", StringComparison.Ordinal) == true);
    }
}
