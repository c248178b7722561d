using System.CommandLine;
using System.CommandLine.Help;
using Mesh.Cli.Analyze;
using Mesh.Cli.Bootstrap;
using Mesh.Cli.Completion;
using Mesh.Cli.Dashboard;
using Mesh.Cli.Describe;
using Mesh.Cli.Install;
using Mesh.Cli.ProxyConfig;
using Mesh.Cli.ProxyStatus;
using Mesh.Cli.Token;
using Mesh.Cli.Version;

namespace Mesh.Cli;

/// <summary>The <c>mesh</c> command line: builds the command tree and runs one command line.</summary>
internal static class MeshCli
{
    /// <summary>Builds the root command with every subcommand.</summary>
    public static RootCommand Create(CliContext context)
    {
        var global = new GlobalOptions(context);
        var root = new RootCommand("mesh: inspect, validate and install Mesh, the proxyless service mesh for .NET.");
        root.Options.Add(global.ControlPlane);
        root.Options.Add(global.Output);
        foreach (var command in new[]
        {
            ProxyStatusCommand.Create(global),
            ProxyConfigCommand.Create(global),
            AnalyzeCommand.Create(global),
            DescribeCommand.Create(global),
            BootstrapCommand.Create(global),
            TokenCommand.Create(global),
            DashboardCommand.Create(global),
            VersionCommand.Create(global),
            InstallCommand.Create(global),
            InstallCommand.CreateUninstall(global),
            CompletionCommand.Create(global),
        })
        {
            root.Subcommands.Add(command);
        }

        if (context.HelpWidth is { } width)
        {
            foreach (var option in root.Options)
            {
                if (option is HelpOption { Action: HelpAction help })
                {
                    help.MaxWidth = width;
                }
            }
        }

        return root;
    }

    /// <summary>Runs <paramref name="args"/>: 0 on success, 1 on a failure, 2 on a command line that cannot be used.</summary>
    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        var root = Create(context);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !IsCompletionRequest(args))
        {
            foreach (var error in parsed.Errors)
            {
                await context.Error.WriteLineAsync("mesh: " + error.Message).ConfigureAwait(false);
            }

            await context.Error.WriteLineAsync($"Run '{CommandPath(parsed.CommandResult.Command)} --help' for usage.").ConfigureAwait(false);
            return CliException.Usage;
        }

        var configuration = new InvocationConfiguration { Output = context.Out, Error = context.Error, EnableDefaultExceptionHandler = false };
        try
        {
            return await parsed.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            await context.Error.WriteLineAsync("mesh: " + ex.Message).ConfigureAwait(false);
            return ex.ExitCode;
        }
    }

    /// <summary>A shell asking for completions (<c>[suggest:N]</c>): incomplete command lines are expected there.</summary>
    private static bool IsCompletionRequest(string[] args) => args is [var first, ..] && first.StartsWith("[suggest", StringComparison.Ordinal);

    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? symbol = command; symbol is Command c; symbol = c.Parents.FirstOrDefault())
        {
            names.Insert(0, c is RootCommand ? "mesh" : c.Name);
        }

        return string.Join(' ', names);
    }
}
