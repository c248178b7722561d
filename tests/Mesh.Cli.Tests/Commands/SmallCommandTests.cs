using System.Buffers.Text;
using System.Text.Json.Nodes;
using Mesh.Cli.Tests.Support;
using Mesh.ControlPlane;
using Mesh.Testing;

namespace Mesh.Cli.Tests.Commands;

/// <summary>bootstrap, token create, dashboard and version.</summary>
public sealed class SmallCommandTests
{
    [Fact]
    public async Task BootstrapProxyless_WithToken_PrintsAGrpcBootstrapForTheWorkload()
    {
        var result = await MeshTool.RunAsync(["bootstrap", "proxyless", "reviews-v2", "-l", "app=reviews", "-l", "version=v2", "--token-file", "/etc/mesh/token", "--control-plane", "http://10.0.0.5:15014"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var bootstrap = JsonNode.Parse(result.Out)!;
        Assert.Equal("10.0.0.5:15010", (string?)bootstrap["xds_servers"]![0]!["server_uri"]);
        Assert.Equal("insecure", (string?)bootstrap["xds_servers"]![0]!["channel_creds"]![0]!["type"]);
        Assert.Equal("reviews-v2.default", (string?)bootstrap["node"]!["id"]);
        Assert.Equal("default", (string?)bootstrap["node"]!["metadata"]!["NAMESPACE"]);
        Assert.Equal("reviews", (string?)bootstrap["node"]!["metadata"]!["SERVICE_ACCOUNT"]);
        Assert.Equal("v2", (string?)bootstrap["node"]!["metadata"]!["LABELS"]!["version"]);
        var ca = bootstrap["certificate_providers"]!["default"]!;
        Assert.Equal("mesh_ca", (string?)ca["plugin_name"]);
        Assert.Equal("https://10.0.0.5:15012", (string?)ca["config"]!["server_uri"]);
        Assert.Equal("/etc/mesh/token", (string?)ca["config"]!["token_file"]);
    }

    [Fact]
    public async Task BootstrapProxyless_FedToAMeshClient_ConnectsToTheControlPlane()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["services.yaml"] = Repository.BookinfoServiceEntries() });
        var result = await MeshTool.RunAsync(["bootstrap", "proxyless", "details-v1", "--xds-address", cp.XdsAddress.Authority]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var bootstrap = JsonNode.Parse(result.Out)!;
        bootstrap.AsObject().Remove("server_listener_resource_name_template");
        await using var workload = await MeshWorkload.StartWithBootstrapAsync(cp.XdsAddress, "details-v1.default", bootstrap.ToJsonString(), "ratings:9080");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        CliResult status;
        do
        {
            await Task.Delay(100);
            status = await MeshTool.RunAsync(cp.HttpAddress, "proxy-status", "details-v1");
        }
        while (!System.Text.RegularExpressions.Regex.IsMatch(status.Out, @"(?m)^LDS\s+SYNCED") && DateTime.UtcNow < deadline);

        Assert.Matches(@"(?m)^LDS\s+SYNCED", status.Out);
    }

    [Fact]
    public async Task BootstrapEnvoy_PrintsThePinnedBootstrap()
    {
        var result = await MeshTool.RunAsync(["bootstrap", "envoy", "productpage-v1", "--ip", "10.1.2.3", "-l", "app=productpage", "--xds-address", "mesh-controlplane.mesh-system:15010"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Golden.AssertMatches("snapshots/bootstrap-envoy.json", result.Out);
    }

    [Theory]
    [InlineData("bootstrap proxyless a -l novalue", "--label: 'novalue' is not key=value.")]
    [InlineData("bootstrap envoy a --xds-address nope:x", "--xds-address: 'nope:x' is not host:port.")]
    public async Task Bootstrap_BadFlags_AreUsageErrors(string commandLine, string expected)
    {
        var result = await MeshTool.RunAsync(commandLine.Split(' '));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenCreate_SameTokenShapeAsTheControlPlaneCommand()
    {
        var caDir = Path.Combine(Path.GetTempPath(), "mesh-cli-ca-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = await MeshTool.RunAsync(["token", "create", "--namespace", "default", "--service-account", "reviews", "--ttl", "30m", "--ca-dir", caDir]);
            using var old = new StringWriter();
            var oldExit = ControlPlaneHost.RunTokenCommand(["create", "--namespace", "default", "--service-account", "reviews", "--ttl", "30m", "--ca-dir", caDir], old, TextWriter.Null);

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal(0, oldExit);
            var ours = Payload(result.Out.Trim());
            var theirs = Payload(old.ToString().Trim());
            foreach (var field in new[] { "td", "ns", "sa" })
            {
                Assert.Equal((string?)theirs[field], (string?)ours[field]);
            }

            Assert.Equal("reviews", (string?)ours["sa"]);
            Assert.InRange((long)ours["exp"]! - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 1700, 1810);
            Assert.InRange((long)ours["exp"]! - (long)theirs["exp"]!, -5, 5);
            Assert.Equal(result.Out.Trim().Split('.')[1].Length, old.ToString().Trim().Split('.')[1].Length);
        }
        finally
        {
            Directory.Delete(caDir, recursive: true);
        }
    }

    [Theory]
    [InlineData("token create --namespace default --service-account a --ttl soon", "--ttl: 'soon' is not a positive duration like 24h or 30m.")]
    [InlineData("token create --service-account a", "Option '--namespace' is required.")]
    [InlineData("token create --namespace Default! --service-account a", "mesh: ")]
    public async Task TokenCreate_BadFlags_AreUsageErrors(string commandLine, string expected)
    {
        var result = await MeshTool.RunAsync([.. commandLine.Split(' '), "--ca-dir", Path.Combine(Path.GetTempPath(), "mesh-cli-ca-unused")]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dashboard_Served_PrintsAndOpensTheUrl()
    {
        await using var server = await FakeHttpServer.StartAsync(new Dictionary<string, (int, string)> { ["/dashboard"] = (200, "<html>mesh</html>") });
        Uri? opened = null;

        var result = await MeshTool.RunAsync(["dashboard", "--open", "--control-plane", server.Address.ToString()], openBrowser: u => { opened = u; return true; });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(new Uri(server.Address, "dashboard").ToString(), result.Out.Trim());
        Assert.Equal(new Uri(server.Address, "dashboard"), opened);
    }

    [Fact]
    public async Task Dashboard_ControlPlaneServesIt_PrintsItsUrl()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>());
        Uri? opened = null;

        var result = await MeshTool.RunAsync(cp.HttpAddress, "dashboard");
        var open = await MeshTool.RunAsync(["dashboard", "--open", "--control-plane", cp.HttpAddress.ToString()], openBrowser: url => (opened = url) is not null);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(new Uri(cp.HttpAddress, "dashboard") + "\n", result.Out);
        Assert.True(open.ExitCode == 0, open.ToString());
        Assert.Equal(new Uri(cp.HttpAddress, "dashboard"), opened);
    }

    [Fact]
    public async Task Dashboard_NotServed_SaysSoAndPointsAtTheDebugPages()
    {
        // An older control plane: every page but the debug ones answers 404.
        await using var older = await FakeHttpServer.StartAsync(new Dictionary<string, (int, string)> { ["/debug/syncz"] = (200, "[]") });

        var result = await MeshTool.RunAsync(older.Address, "dashboard");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("serves no dashboard", result.Error, StringComparison.Ordinal);
        Assert.Contains("debug/syncz", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_RealControlPlane_PrintsBothVersions()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>());

        var result = await MeshTool.RunAsync(cp.HttpAddress, "version");
        var json = await MeshTool.RunAsync(cp.HttpAddress, "version", "-o", "json");
        var unreachable = await MeshTool.RunAsync(new Uri("http://127.0.0.1:1"), "version");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^client version: \d+\.\d+\.\d+", result.Out);
        Assert.Matches(@"control plane version: \d+\.\d+\.\d+", result.Out);
        Assert.DoesNotContain("+", (string?)JsonNode.Parse(json.Out)!["controlPlane"], StringComparison.Ordinal);
        Assert.Matches(@"^\d+\.\d+\.\d+", (string?)JsonNode.Parse(json.Out)!["controlPlane"]);
        Assert.Equal(0, unreachable.ExitCode);
        Assert.Contains("control plane version: unknown (cannot reach the control plane", unreachable.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_ControlPlaneWithoutVersionEndpoint_PrintsUnknownForIt()
    {
        await using var server = await FakeHttpServer.StartAsync(new Dictionary<string, (int, string)> { ["/healthz/ready"] = (200, "ok") });

        var result = await MeshTool.RunAsync(server.Address, "version");

        Assert.Contains("control plane version: unknown (the control plane exposes no version endpoint)", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_ControlPlaneWithVersionEndpoint_PrintsIt()
    {
        await using var server = await FakeHttpServer.StartAsync(new Dictionary<string, (int, string)> { ["/version"] = (200, "{\"version\": \"0.2.0\"}") });

        var result = await MeshTool.RunAsync(server.Address, "version");

        Assert.Contains("control plane version: 0.2.0", result.Out, StringComparison.Ordinal);
    }

    private static JsonNode Payload(string token) => JsonNode.Parse(Base64Url.DecodeFromChars(token.Split('.')[0]))!;
}
