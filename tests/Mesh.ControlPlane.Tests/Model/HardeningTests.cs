using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Model;

/// <summary>
/// Values that once passed validation and reached clients, each rejected with an error naming the file, the
/// resource and the field — and the snapshot provider keeps serving the last good configuration.
/// </summary>
public class HardeningTests
{
    /// <summary>A source whose content the test sets; rebuilds are called directly.</summary>
    private sealed class SettableSource : IConfigSource
    {
        public string Name => "settable";

        public ConfigSet Current { get; private set; } = ConfigSet.Empty;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Microsoft.Extensions.Primitives.IChangeToken GetChangeToken() => new Microsoft.Extensions.Primitives.CancellationChangeToken(CancellationToken.None);

        public void Set(string yaml) => Current = YamlResourceReader.Read(yaml, "in.yaml", "default");
    }

    private static MeshBuildResult Build(params string[] documents)
    {
        var read = YamlResourceReader.Read(string.Join("\n---\n", documents), "in.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    private static ConfigError SingleError(params string[] documents)
    {
        var result = Build(documents);
        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("in.yaml:", error.Origin, StringComparison.Ordinal);
        return error;
    }

    private static string ServiceEntryWith(string ports, string endpoint) => $$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          resolution: STATIC
          ports: [{{ports}}]
          endpoints: [{{endpoint}}]
        """;

    [Fact]
    public void Build_WeightsWhoseSumOverflowsUint32_ErrorNamesRoute()
    {
        var vs = TestYaml.ReviewsSplit(2147483647, 2147483647).Replace(
            "      weight: 2147483647\n", "      weight: 2147483647\n    - destination: {host: reviews, subset: v1}\n      weight: 102\n", StringComparison.Ordinal);
        var error = SingleError(TestYaml.ReviewsServiceEntry, TestYaml.ReviewsDestinationRule, vs);

        Assert.Equal("VirtualService default/reviews", error.Resource);
        Assert.Equal("spec.http[0].route", error.Field);
        Assert.Contains("sum to 4294967396", error.Message, StringComparison.Ordinal);
        Assert.Contains("IST0106", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(70000)]
    public void Build_EndpointPortOutOfRange_ErrorNamesEndpointPort(int port)
    {
        var error = SingleError(ServiceEntryWith("{number: 9080, name: grpc}", $"{{address: 10.0.0.1, ports: {{grpc: {port}}}}}"));

        Assert.Equal("spec.endpoints[0].ports.grpc", error.Field);
        Assert.Contains($"not {port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_TargetPortOutOfRange_ErrorNamesTargetPort()
    {
        var error = SingleError(ServiceEntryWith("{number: 9080, name: grpc, targetPort: 99999}", "{address: 10.0.0.1}"));

        Assert.Equal("spec.ports[0].targetPort", error.Field);
    }

    [Fact]
    public void Build_EndpointWeightOf2To31_ErrorNamesWeight()
    {
        var error = SingleError(ServiceEntryWith("{number: 9080, name: grpc}", "{address: 10.0.0.1, weight: 2147483648}"));

        Assert.Equal("spec.endpoints[0].weight", error.Field);
        Assert.Contains("2^31", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_EndpointWeightsWhoseSumOverflows_ErrorNamesEndpoints()
    {
        var error = SingleError(ServiceEntryWith("{number: 9080, name: grpc}", "{address: 10.0.0.1, weight: 2147483647}, {address: 10.0.0.2, weight: 2147483647}, {address: 10.0.0.3, weight: 2}"));

        Assert.Equal("spec.endpoints", error.Field);
    }

    [Theory]
    [InlineData("(?<=a)b", "lookbehind")]
    [InlineData("(?<!a)b", "lookbehind")]
    [InlineData("(a)\\\\1", "backreferences")]
    [InlineData("(?=a)", "lookahead")]
    [InlineData("(?>a)", "atomic")]
    [InlineData("a++", "possessive")]
    public void Build_RegexOutsideRe2_ErrorNamesRegexField(string regex, string reason)
    {
        var error = SingleError(TestYaml.ReviewsServiceEntry, TestYaml.ReviewsDestinationRule, TestYaml.ReviewsRule("match: [{uri: {regex: \"" + regex + "\"}}]"));

        Assert.Equal("spec.http[0].match[0].uri.regex", error.Field);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains("RE2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[a-z]+\\\\d{2,3}(x|y)?")]
    [InlineData("[(?=]a")]
    [InlineData("/api/.*")]
    public void Build_Re2Regex_IsAccepted(string regex)
    {
        var result = Build(TestYaml.ReviewsServiceEntry, TestYaml.ReviewsDestinationRule, TestYaml.ReviewsRule("match: [{uri: {regex: \"" + regex + "\"}}]"));

        Assert.Empty(result.Errors);
    }

    [Theory]
    [InlineData("revi\U0001F600ews")]
    [InlineData("reviews\u200B")]
    [InlineData("\u202Ereviews")]
    [InlineData("default/reviews")]
    public void Build_DestinationHostNotAValidHostName_ErrorShowsTheHiddenCharacter(string host)
    {
        var vs = TestYaml.ReviewsRule("").Replace("destination: {host: reviews", "destination: {host: \"" + host + "\"", StringComparison.Ordinal);
        var error = SingleError(TestYaml.ReviewsServiceEntry, TestYaml.ReviewsDestinationRule, vs);

        Assert.Equal("spec.http[0].route[0].destination.host", error.Field);
        Assert.Contains("not a valid host name", error.Message, StringComparison.Ordinal);
        if (!host.All(char.IsAscii))
        {
            // The hidden or non-ASCII character is spelled out, never printed raw.
            Assert.DoesNotContain(host, error.Message, StringComparison.Ordinal);
            Assert.Contains("U+", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("reviews\u200D")]
    [InlineData("Reviews")]
    [InlineData("re/views")]
    [InlineData("\U0001F600")]
    public void Build_ResourceNameNotDns1123_ErrorNamesMetadataName(string name)
    {
        var dr = TestYaml.ReviewsDestinationRule.Replace("  name: reviews", "  name: \"" + name + "\"", StringComparison.Ordinal);
        var error = SingleError(TestYaml.ReviewsServiceEntry, dr);

        Assert.Equal("metadata.name", error.Field);
        Assert.Contains("DNS-1123", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_VirtualServiceHostWithRightToLeftMark_ErrorNamesHost()
    {
        var vs = TestYaml.ReviewsRule("").Replace("hosts: [reviews]", "hosts: [\"rev\u200Fiews\"]", StringComparison.Ordinal);
        var error = SingleError(TestYaml.ReviewsServiceEntry, TestYaml.ReviewsDestinationRule, vs);

        Assert.Equal("spec.hosts[0]", error.Field);
        Assert.Contains("U+200F", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_UnknownDestinationHost_CarriesIstioAnalyzerCode()
    {
        var vs = TestYaml.ReviewsRule("").Replace("destination: {host: reviews", "destination: {host: nosuch", StringComparison.Ordinal);
        var error = SingleError(TestYaml.ReviewsServiceEntry, TestYaml.ReviewsDestinationRule, vs);

        Assert.Contains("IST0101 ReferencedResourceNotFound", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DnsServiceEntryWithoutPorts_ErrorNamesPorts()
    {
        var error = SingleError("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: external}
            spec:
              hosts: [api.example.com]
              resolution: DNS
              location: MESH_EXTERNAL
            """);

        Assert.Equal("ServiceEntry default/external", error.Resource);
        Assert.Equal("spec.ports", error.Field);
    }

    [Fact]
    public void Rebuild_HardenedValueAfterGoodConfig_LastGoodSnapshotKept()
    {
        var source = new SettableSource();
        source.Set(TestYaml.ReviewsServiceEntry);
        using var provider = new MeshSnapshotProvider([source], Microsoft.Extensions.Options.Options.Create(new ControlPlaneOptions()), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<MeshSnapshotProvider>.Instance);
        Assert.True(provider.Rebuild());
        var good = provider.Current;

        source.Set(ServiceEntryWith("{number: 9080, name: grpc}", "{address: 10.0.0.1, ports: {grpc: 70000}}"));

        Assert.False(provider.Rebuild());
        Assert.Same(good, provider.Current);
        Assert.Contains(provider.LastErrors, e => e.Field == "spec.endpoints[0].ports.grpc");
    }
}
