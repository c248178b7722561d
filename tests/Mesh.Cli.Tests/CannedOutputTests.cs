using Mesh.Cli.Tests.Support;

namespace Mesh.Cli.Tests;

/// <summary>
/// Output snapshots, pinned as golden files, from canned control plane JSON — including fields the tool does not
/// know and fields an older control plane leaves out, which must not break it.
/// </summary>
public sealed class CannedOutputTests : IAsyncLifetime
{
    private FakeHttpServer _server = null!;

    public async Task InitializeAsync()
    {
        var syncz = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "testassets/canned/syncz.json"));
        var dump = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "testassets/canned/config_dump.json"));
        _server = await FakeHttpServer.StartAsync(new Dictionary<string, (int, string)>
        {
            ["/debug/syncz"] = (200, syncz),
            ["/debug/config_dump?node=productpage-v1.default"] = (200, dump),
        });
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("proxy-status", "proxy-status.txt")]
    [InlineData("proxy-status ratings-v1", "proxy-status-ratings.txt")]
    [InlineData("proxy-status -o json", "proxy-status.json")]
    [InlineData("proxy-status -o yaml", "proxy-status.yaml")]
    [InlineData("proxy-config listeners productpage-v1", "listeners.txt")]
    [InlineData("proxy-config routes productpage-v1", "routes.txt")]
    [InlineData("proxy-config clusters productpage-v1", "clusters.txt")]
    [InlineData("proxy-config endpoints productpage-v1", "endpoints.txt")]
    [InlineData("proxy-config secrets productpage-v1", "secrets.txt")]
    [InlineData("proxy-config routes productpage-v1 -o yaml", "routes.yaml")]
    [InlineData("proxy-config clusters productpage-v1 --name outbound|9080|v2|reviews.default.svc.cluster.local -o json", "cluster-v2.json")]
    public async Task Command_CannedControlPlane_PrintsThePinnedOutput(string commandLine, string golden)
    {
        var result = await MeshTool.RunAsync(_server.Address, commandLine.Split(' '));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(string.Empty, result.Error);
        Golden.AssertMatches("snapshots/" + golden, result.Out);
    }
}
