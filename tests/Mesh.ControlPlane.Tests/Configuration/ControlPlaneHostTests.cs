using Mesh.Testing;

namespace Mesh.ControlPlane.Tests.Configuration;

public class ControlPlaneHostTests
{
    [Fact]
    public void ParseArguments_AllOptions_AreRead()
    {
        var options = new ControlPlaneOptions();

        var error = ControlPlaneHost.ParseArguments(["--config-dir", "/etc/mesh", "--xds-port", "0", "--http-port=16014", "--namespace", "shop"], options);

        Assert.Null(error);
        Assert.Equal(("/etc/mesh", 0, 16014, "shop"), (options.ConfigDir, options.XdsPort, options.HttpPort, options.DefaultNamespace));
    }

    [Theory]
    [InlineData("--xds-port", "http", "a port is a number")]
    [InlineData("--confg-dir", "x", "unknown option '--confg-dir'")]
    [InlineData("--listen", "localhost", "is not an IP address")]
    public void ParseArguments_BadInput_SaysWhatIsWrong(string name, string value, string expected)
    {
        var error = ControlPlaneHost.ParseArguments([name, value], new ControlPlaneOptions());

        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseArguments_MissingValue_SaysWhichOption()
    {
        Assert.Equal("'--config-dir' needs a value.", ControlPlaneHost.ParseArguments(["--config-dir"], new ControlPlaneOptions()));
    }

    [Fact]
    public void ParseArguments_HardeningOptions_AreRead()
    {
        var options = new ControlPlaneOptions();

        var error = ControlPlaneHost.ParseArguments(
            ["--listen", "0.0.0.0", "--http-listen", "127.0.0.1", "--insecure-identity-from-metadata", "--keepalive", "15s", "--keepalive-timeout=5s"], options);

        Assert.Null(error);
        Assert.Equal(("0.0.0.0", "127.0.0.1", true), (options.ListenAddress, options.HttpListenAddress, options.InsecureIdentityFromMetadata));
        Assert.Equal((TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(5)), (options.KeepAliveInterval, options.KeepAliveTimeout));
    }

    [Fact]
    public void Defaults_DebugOnLoopback_IdentityFromMetadataOff_KeepaliveOn()
    {
        var options = new ControlPlaneOptions();

        Assert.Equal("127.0.0.1", options.HttpListenAddress);
        Assert.False(options.InsecureIdentityFromMetadata);
        Assert.Equal(TimeSpan.FromSeconds(30), options.KeepAliveInterval);
        Assert.Contains("at least 1s", ControlPlaneHost.ParseArguments(["--keepalive", "100ms"], new ControlPlaneOptions()), StringComparison.Ordinal);
        Assert.Contains("is not an IP address", ControlPlaneHost.ParseArguments(["--http-listen", "debug"], new ControlPlaneOptions()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listen_MovesOnlyXds_DebugStaysOnTheHttpAddressAndIsNotServedOnTheXdsPort()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews(80, 20), configure: o => o.ListenAddress = "127.0.0.2");

        Assert.Equal("127.0.0.2", cp.XdsAddress.Host);
        Assert.Equal("127.0.0.1", cp.HttpAddress.Host);
        using var h2c = new HttpClient();
        foreach (var path in new[] { "/debug/syncz", "/debug/loadz" })
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await cp.Http.GetAsync(path)).StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cp.XdsAddress, path))
            {
                Version = System.Net.HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            using var response = await h2c.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        }
    }
}
