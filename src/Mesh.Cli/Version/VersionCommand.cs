using System.CommandLine;
using System.Net;
using System.Reflection;
using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.Version;

/// <summary><c>mesh version</c>: this tool's version and the control plane's (when it tells it).</summary>
internal static class VersionCommand
{
    /// <summary>Where a control plane may say its version, first found wins.</summary>
    private static readonly string[] VersionPaths = ["version", "debug/version"];

    public static Command Create(GlobalOptions global)
    {
        var remote = new Option<bool>("--remote") { Description = "Also ask the control plane (default true; --remote false for the client only)", DefaultValueFactory = _ => true };
        var command = new Command("version", "Print the client's and the control plane's versions") { remote };
        command.SetAction(async (result, cancellationToken) =>
        {
            var client = ClientVersion;
            string? server = null;
            string note = string.Empty;
            if (result.GetValue(remote))
            {
                using var controlPlane = global.ConnectControlPlane(result);
                try
                {
                    server = await ServerVersionAsync(controlPlane, cancellationToken).ConfigureAwait(false);
                    note = server is null ? " (the control plane exposes no version endpoint)" : string.Empty;
                }
                catch (CliException ex)
                {
                    note = $" ({ex.Message})";
                }
            }

            var format = global.GetOutput(result);
            if (format != OutputFormat.Table)
            {
                StructuredOutput.Write(global.Context.Out, new JsonObject { ["client"] = client, ["controlPlane"] = server ?? "unknown" }, format);
                return 0;
            }

            global.Context.Out.WriteLine($"client version: {client}");
            if (result.GetValue(remote))
            {
                global.Context.Out.WriteLine($"control plane version: {server ?? "unknown"}{note}");
            }

            return 0;
        });
        return command;
    }

    /// <summary>This tool's version (the informational version, without the source revision).</summary>
    public static string ClientVersion
    {
        get
        {
            var version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            var plus = version.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? version : version[..plus];
        }
    }

    private static async Task<string?> ServerVersionAsync(ControlPlane.ControlPlaneClient controlPlane, CancellationToken cancellationToken)
    {
        foreach (var path in VersionPaths)
        {
            var (status, body) = await controlPlane.GetAsync(path, cancellationToken).ConfigureAwait(false);
            if (status != HttpStatusCode.OK)
            {
                continue;
            }

            try
            {
                return Json.Str(JsonNode.Parse(body), "version") ?? body.Trim();
            }
            catch (System.Text.Json.JsonException)
            {
                return body.Trim();
            }
        }

        return null;
    }
}
