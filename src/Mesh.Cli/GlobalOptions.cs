using System.CommandLine;
using Mesh.Cli.ControlPlane;
using Mesh.Cli.Output;

namespace Mesh.Cli;

/// <summary>The options every command accepts: where the control plane is and how to print.</summary>
internal sealed class GlobalOptions
{
    public GlobalOptions(CliContext context) => Context = context;

    /// <summary>The context commands run in.</summary>
    public CliContext Context { get; }

    /// <summary><c>--control-plane URL</c>.</summary>
    public Option<string?> ControlPlane { get; } = new("--control-plane")
    {
        Description = "The control plane's HTTP address (default: $MESH_CONTROL_PLANE, controlPlane: in ~/.mesh/config.yaml, else http://127.0.0.1:15014)",
        HelpName = "URL",
        Recursive = true,
    };

    /// <summary><c>-o, --output table|json|yaml</c>.</summary>
    public Option<string> Output { get; } = CreateOutput();

    /// <summary>The output format the command line asked for.</summary>
    public OutputFormat GetOutput(ParseResult result) => result.GetValue(Output) switch
    {
        "json" => OutputFormat.Json,
        "yaml" => OutputFormat.Yaml,
        _ => OutputFormat.Table,
    };

    /// <summary>A client for the control plane the command line (or environment) names.</summary>
    public ControlPlaneClient ConnectControlPlane(ParseResult result) =>
        new(ControlPlaneAddress.Resolve(result.GetValue(ControlPlane), Context), Context.RequestTimeout);

    private static Option<string> CreateOutput()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "Output format",
            HelpName = "table|json|yaml",
            DefaultValueFactory = _ => "table",
            Recursive = true,
        };
        option.AcceptOnlyFromAmong("table", "json", "yaml");
        return option;
    }
}
