using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Model;

/// <summary>ServiceEntry <c>resolution</c>: which names a client resolves, and the inputs that are refused.</summary>
public class ServiceEntryResolutionTests
{
    private static MeshBuildResult Build(string yaml)
    {
        var read = YamlResourceReader.Read(yaml, "se.yaml", "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    private static string Entry(string resolution, string endpoints) => $"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {"{"}name: external{"}"}
        spec:
          hosts: [api.example.com]
          location: MESH_EXTERNAL
          resolution: {resolution}
          ports: [{"{"}number: 443, name: grpc, protocol: GRPC{"}"}]
        {endpoints}
        """;

    [Theory]
    [InlineData("DNS", ServiceResolution.Dns)]
    [InlineData("DNS_ROUND_ROBIN", ServiceResolution.DnsRoundRobin)]
    [InlineData("NONE", ServiceResolution.None)]
    public void Build_ResolutionWithoutEndpoints_TheHostIsTheNameToResolve(string resolution, ServiceResolution expected)
    {
        var service = Build(Entry(resolution, string.Empty)).Snapshot!.Services["api.example.com"];

        Assert.Equal(expected, service.Resolution);
        var endpoint = Assert.Single(service.Endpoints);
        Assert.Equal("api.example.com", endpoint.Address);
        Assert.Equal(443, endpoint.Ports[443]);
    }

    [Fact]
    public void Build_DnsRoundRobinWithTwoEndpoints_ErrorNamesEndpoints()
    {
        var result = Build(Entry("DNS_ROUND_ROBIN", "  endpoints: [{address: a.example.com}, {address: b.example.com}]"));

        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.Equal("ServiceEntry default/external", error.Resource);
        Assert.Equal("spec.endpoints", error.Field);
        Assert.Contains("at most one endpoint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_NoneWithHostNameEndpoint_ErrorNamesTheAddress()
    {
        var result = Build(Entry("NONE", "  endpoints: [{address: backend.example.com}]"));

        Assert.Null(result.Snapshot);
        var error = Assert.Single(result.Errors);
        Assert.Equal("spec.endpoints[0].address", error.Field);
        Assert.Contains("not an IP address, as resolution NONE requires", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DnsEndpointThatIsNotAHostName_ErrorNamesTheAddress()
    {
        var result = Build(Entry("DNS", "  endpoints: [{address: \"bad host\"}]"));

        Assert.Null(result.Snapshot);
        Assert.Contains(result.Errors, e => e.Field == "spec.endpoints[0].address");
    }
}
