namespace Mesh.Cli.Tests.Support;

/// <summary>Runs the mesh command line in-process with captured output and a controlled environment.</summary>
internal static class MeshTool
{
    /// <summary>Runs <paramref name="args"/>; <paramref name="variables"/> is the whole environment the tool sees.</summary>
    public static async Task<CliResult> RunAsync(string[] args, IReadOnlyDictionary<string, string>? variables = null, Func<Uri, bool>? openBrowser = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext
        {
            Out = output,
            Error = error,
            GetVariable = name => variables is not null && variables.TryGetValue(name, out var v) ? v : null,
            OpenBrowser = openBrowser ?? (_ => false),
            RequestTimeout = TimeSpan.FromSeconds(10),
            HelpWidth = 120,
        };
        var exit = await MeshCli.RunAsync(args, context);
        return new CliResult(exit, Normalize(output.ToString()), Normalize(error.ToString()));
    }

    /// <summary>Help names the executable; under the test host that is not "mesh".</summary>
    private static string Normalize(string text) =>
        text.Replace("  " + System.CommandLine.RootCommand.ExecutableName + " ", "  mesh ", StringComparison.Ordinal)
            .Replace("  " + System.CommandLine.RootCommand.ExecutableName + "\n", "  mesh\n", StringComparison.Ordinal);

    /// <summary>Runs <paramref name="args"/> against the control plane at <paramref name="controlPlane"/>.</summary>
    public static Task<CliResult> RunAsync(Uri controlPlane, params string[] args) =>
        RunAsync([.. args, "--control-plane", controlPlane.ToString()]);
}
