namespace Mesh.Xds.Tests;

public class XdsResourceNamesTests
{
    [Theory]
    [InlineData(9080, "v1", "reviews.default.svc.cluster.local", "outbound|9080|v1|reviews.default.svc.cluster.local")]
    [InlineData(80, null, "ratings.default.svc.cluster.local", "outbound|80||ratings.default.svc.cluster.local")]
    [InlineData(65535, "", "a", "outbound|65535||a")]
    public void ClusterName_ValidParts_BuildsIstioOutboundName(int port, string? subset, string host, string expected)
    {
        Assert.Equal(expected, XdsResourceNames.ClusterName(port, subset, host));
    }

    [Theory]
    [InlineData(9080, "v1", "reviews.default.svc.cluster.local")]
    [InlineData(80, null, "ratings.default.svc.cluster.local")]
    [InlineData(1, "canary-2024", "10.0.0.1")]
    public void TryParseClusterName_BuiltName_RoundTrips(int port, string? subset, string host)
    {
        var name = XdsResourceNames.ClusterName(port, subset, host);

        Assert.True(XdsResourceNames.TryParseClusterName(name, out var parsedPort, out var parsedSubset, out var parsedHost));
        Assert.Equal(port, parsedPort);
        Assert.Equal(subset ?? string.Empty, parsedSubset);
        Assert.Equal(host, parsedHost);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("reviews")]
    [InlineData("inbound|9080||reviews.default.svc.cluster.local")]
    [InlineData("outbound|9080|v1")]
    [InlineData("outbound|9080|v1|")]
    [InlineData("outbound||v1|reviews")]
    [InlineData("outbound|0|v1|reviews")]
    [InlineData("outbound|65536|v1|reviews")]
    [InlineData("outbound|+80|v1|reviews")]
    [InlineData("outbound| 80|v1|reviews")]
    [InlineData("outbound|http|v1|reviews")]
    [InlineData("outbound|80|v1|reviews|extra")]
    public void TryParseClusterName_MalformedName_ReturnsFalseAndEmptyParts(string? name)
    {
        Assert.False(XdsResourceNames.TryParseClusterName(name, out var port, out var subset, out var host));
        Assert.Equal(0, port);
        Assert.Equal(string.Empty, subset);
        Assert.Equal(string.Empty, host);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65536)]
    public void ClusterName_PortOutOfRange_Throws(int port)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => XdsResourceNames.ClusterName(port, null, "reviews"));
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData(null, "a|b")]
    [InlineData("v|1", "reviews")]
    public void ClusterName_InvalidSubsetOrHost_Throws(string? subset, string host)
    {
        Assert.ThrowsAny<ArgumentException>(() => XdsResourceNames.ClusterName(80, subset, host));
    }
}
