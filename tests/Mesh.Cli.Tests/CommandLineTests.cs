using Mesh.Cli.Tests.Support;

namespace Mesh.Cli.Tests;

/// <summary>Help, flags, the control plane address and its errors, shell completion: what every command shares.</summary>
public sealed class CommandLineTests
{
    public static TheoryData<string> Commands => new()
    {
        string.Empty,
        "proxy-status",
        "proxy-config",
        "proxy-config listeners",
        "proxy-config routes",
        "proxy-config clusters",
        "proxy-config endpoints",
        "proxy-config secrets",
        "completion",
        "analyze",
        "describe",
        "describe service",
        "describe workload",
        "bootstrap",
        "bootstrap proxyless",
        "bootstrap envoy",
        "token",
        "token create",
        "dashboard",
        "version",
        "install",
        "uninstall",
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_EveryCommand_PrintsThePinnedUsage(string command)
    {
        var args = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).Append("--help").ToArray();

        var result = await MeshTool.RunAsync(args);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Usage:", result.Out, StringComparison.Ordinal);
        Golden.AssertMatches($"help/{(command.Length == 0 ? "mesh" : command.Replace(' ', '-'))}.txt", result.Out);
    }

    [Theory]
    [InlineData("proxy-status --bogus", "Unrecognized command or argument '--bogus'.")]
    [InlineData("proxy-status -o xml", "Argument 'xml' not recognized. Must be one of:")]
    [InlineData("proxy-config", "Required command was not provided.")]
    [InlineData("proxy-config routes a b", "Unrecognized command or argument 'b'.")]
    [InlineData("proxy-config routes --bogus", "Unrecognized command or argument '--bogus'.")]
    [InlineData("completion fish", "Argument 'fish' not recognized.")]
    [InlineData("no-such-command", "Unrecognized command or argument 'no-such-command'.")]
    public async Task BadFlags_Rejected_WithExitCodeTwoAndAPointerToHelp(string commandLine, string expected)
    {
        var result = await MeshTool.RunAsync(commandLine.Split(' '));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("mesh: " + expected, result.Error, StringComparison.Ordinal);
        Assert.Contains("--help' for usage.", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
    }

    [Theory]
    [InlineData("proxy-status")]
    [InlineData("proxy-status productpage-v1")]
    [InlineData("proxy-config routes productpage-v1")]
    [InlineData("describe service reviews")]
    [InlineData("describe workload productpage-v1")]
    [InlineData("dashboard")]
    public async Task UnreachableControlPlane_FailsWithTheAddressAndHowToReachIt(string commandLine)
    {
        var result = await MeshTool.RunAsync(new Uri("http://127.0.0.1:1"), commandLine.Split(' '));

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("mesh: cannot reach the control plane at http://127.0.0.1:1/: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("kubectl -n mesh-system port-forward", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public async Task ProxyConfig_WithoutWorkload_AsksForOne()
    {
        var result = await MeshTool.RunAsync(["proxy-config", "clusters"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("proxy-config clusters needs a workload", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ControlPlaneAddress_FromVariableThenConfigFile_IsUsedInThatOrder()
    {
        var config = Path.Combine(Path.GetTempPath(), $"mesh-config-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(config, "controlPlane: 127.0.0.1:3\n");
        try
        {
            var fromFile = await MeshTool.RunAsync(["proxy-status"], new Dictionary<string, string> { ["MESH_CONFIG"] = config });
            var fromVariable = await MeshTool.RunAsync(["proxy-status"], new Dictionary<string, string> { ["MESH_CONFIG"] = config, ["MESH_CONTROL_PLANE"] = "http://127.0.0.1:2" });
            var fromFlag = await MeshTool.RunAsync(["proxy-status", "--control-plane", "127.0.0.1:4"], new Dictionary<string, string> { ["MESH_CONTROL_PLANE"] = "http://127.0.0.1:2" });
            var none = await MeshTool.RunAsync(["proxy-status"], new Dictionary<string, string> { ["HOME"] = Path.GetTempPath(), ["MESH_CONFIG"] = config + ".absent" });

            Assert.Contains("at http://127.0.0.1:3/", fromFile.Error, StringComparison.Ordinal);
            Assert.Contains("at http://127.0.0.1:2/", fromVariable.Error, StringComparison.Ordinal);
            Assert.Contains("at http://127.0.0.1:4/", fromFlag.Error, StringComparison.Ordinal);
            Assert.Contains("at http://127.0.0.1:15014/", none.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Theory]
    [InlineData("ftp://x", "--control-plane: 'ftp://x' is not a control plane address")]
    [InlineData("http://", "--control-plane: 'http://' is not a control plane address")]
    public async Task ControlPlaneAddress_Invalid_IsAUsageError(string address, string expected)
    {
        var result = await MeshTool.RunAsync(["proxy-status", "--control-plane", address]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ControlPlane_AnsweringSomethingElse_IsReportedAsNotTheControlPlane()
    {
        await using var server = await FakeHttpServer.StartAsync(new Dictionary<string, (int, string)> { ["/debug/syncz"] = (200, "<html>hello</html>") });

        var result = await MeshTool.RunAsync(server.Address, "proxy-status");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("returned something that is not JSON for debug/syncz", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[suggest:3]", "pro", "proxy-config|proxy-status")]
    [InlineData("[suggest:16]", "proxy-config rou", "route|routes")]
    [InlineData("[suggest:16]", "proxy-status -o ", "json|table|yaml")]
    public async Task Completion_SuggestDirective_CompletesCommandsAndValues(string directive, string line, string expected)
    {
        var result = await MeshTool.RunAsync([directive, line]);

        Assert.Equal(0, result.ExitCode);
        var suggestions = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(expected.Split('|'), suggestions);
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _mesh_complete mesh")]
    [InlineData("zsh", "compdef _mesh_complete mesh")]
    [InlineData("pwsh", "Register-ArgumentCompleter -Native -CommandName mesh")]
    public async Task Completion_Script_UsesTheSuggestDirective(string shell, string expected)
    {
        var result = await MeshTool.RunAsync(["completion", shell]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(expected, result.Out, StringComparison.Ordinal);
        Assert.Contains("[suggest:", result.Out, StringComparison.Ordinal);
    }
}
