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
}
