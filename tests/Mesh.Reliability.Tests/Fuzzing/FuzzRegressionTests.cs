using System.Text;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.Fuzz;

namespace Mesh.Reliability.Tests.Fuzzing;

/// <summary>The inputs of the crashes fuzzing found (docs/fuzzing.md), each shown handled now.</summary>
public sealed class FuzzRegressionTests
{
    [Theory]
    [InlineData("cluster", "KjJvdXRib3U=")] // field 5 (a wrapper) whose bytes end inside an end-group tag
    [InlineData("endpoints", "CjBvdXRib3VuZHw5MDgwfHxyZXZpZXdzLmRlZmF1bHQuc3ZjLmNsdXN0ZXIubG9jYWwSXQoAEhsKEwoRCg8SCTEyNy4wLjAuMRiKlQEQASICCAESGwoTChEKDxIJMTI3LjAuMC4xGIuVARABIgIIARIbChMKEQoPEgkxMjcuMC4wLjEYjJUBEAEiAgh3cAEaAggD")]
    public void Decoder_ProtobufThrowsInvalidOperationOnAWrapperField_ReportsAParseErrorInstead(string target, string base64)
    {
        // Google.Protobuf throws InvalidOperationException ("SkipLastField cannot be called at the end of a stream"),
        // not InvalidProtocolBufferException, for these bytes; the decoder used to let it escape.
        var exception = Record.Exception(() => FuzzTargets.All[target].Run(Convert.FromBase64String(base64)));

        Assert.Null(exception);
    }

    [Fact]
    public void Yaml_VirtualServiceWithAnEmptyListItem_ErrorNamesTheItem_NoNullReference()
    {
        // The fuzzer's input: a trailing "-" under http (a common typo) made the model builder throw
        // NullReferenceException while building route tables, failing the whole rebuild without naming the file.
        const string yaml = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route:
                - destination: {host: reviews, subset: v2}
              -
            """;
        Assert.Null(Record.Exception(() => FuzzTargets.All["yaml"].Run(Encoding.UTF8.GetBytes(yaml))));

        var body = (JsonObject)JsonNode.Parse("""{"spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}, null]}}""")!;
        var resource = new ConfigResource("networking.istio.io/v1", "VirtualService", "default", "reviews", "reviews.yaml", body);

        var result = MeshModelBuilder.Build([resource], 1);

        var error = Assert.Single(result.Errors, e => e.Field == "spec.http[1]");
        Assert.Equal("reviews.yaml", error.Origin);
        Assert.Contains("empty list item", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_HeaderMatchWithNoValue_ErrorNamesTheHeader_NoNullReference()
    {
        // The fuzzer's input: a header match left with nothing after its name (null, not {} for presence) made the
        // model builder throw NullReferenceException; it is refused, naming the header, and never read as presence.
        var body = (JsonObject)JsonNode.Parse("""{"spec": {"hosts": ["reviews"], "http": [{"match": [{"headers": {"x-canary": null}}], "route": [{"destination": {"host": "reviews"}}]}]}}""")!;
        var resource = new ConfigResource("networking.istio.io/v1", "VirtualService", "default", "reviews", "reviews.yaml", body);

        var result = MeshModelBuilder.Build([resource], 1);

        var error = Assert.Single(result.Errors, e => e.Field == "spec.http[0].match[0].headers.x-canary");
        Assert.Equal("reviews.yaml", error.Origin);
        Assert.Contains("use {} to match presence", error.Message, StringComparison.Ordinal);
    }
}
