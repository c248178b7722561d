using System.CommandLine;
using System.Text.Json.Nodes;
using Mesh.Cli.Output;
using Mesh.ControlPlane.Configuration;

namespace Mesh.Cli.Analyze;

/// <summary>
/// <c>mesh analyze [DIR]</c>: validates a directory of Istio and Kubernetes YAML offline, with the control plane's own
/// validator and analyzers in the spirit of istioctl's. Exit code 0 when clean, 79 (istioctl's) when something at or
/// above the failure threshold was found.
/// </summary>
internal static class AnalyzeCommand
{
    /// <summary>The exit code when findings reach the failure threshold (istioctl analyze's).</summary>
    public const int FoundIssues = 79;

    public static Command Create(GlobalOptions global)
    {
        var directory = new Argument<string>("directory") { Description = "The configuration directory (every *.yaml and *.yml below it)", DefaultValueFactory = _ => "." };
        var @namespace = new Option<string>("--namespace", "-n") { Description = "Namespace of resources that name none", DefaultValueFactory = _ => "default", HelpName = "NS" };
        var failureThreshold = new Option<string>("--failure-threshold") { Description = "The lowest level that makes the exit code non-zero", DefaultValueFactory = _ => "Warning" };
        failureThreshold.AcceptOnlyFromAmong("Info", "Warning", "Error");
        var outputThreshold = new Option<string>("--output-threshold") { Description = "The lowest level printed", DefaultValueFactory = _ => "Info" };
        outputThreshold.AcceptOnlyFromAmong("Info", "Warning", "Error");
        var kubernetes = new Option<bool>("--kubernetes") { Description = "Analyze the cluster's resources (the current kubeconfig context) instead of a directory" };
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "The kubeconfig file for --kubernetes (default: KUBECONFIG, ~/.kube/config, or in-cluster)", HelpName = "PATH" };
        var command = new Command("analyze", "Validate a configuration directory (or, with --kubernetes, a cluster) offline: the control plane's validator plus Istio-style analyzers (IST0101, IST0106, IST0127, …)")
        {
            directory, @namespace, failureThreshold, outputThreshold, kubernetes, kubeconfig,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string path;
            ConfigSet set;
            if (result.GetValue(kubernetes))
            {
                (path, set) = await ControlPlaneValidation.ReadClusterAsync(result.GetValue(kubeconfig), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                path = result.GetValue(directory)!;
                if (result.GetValue(kubeconfig) is not null)
                {
                    throw new CliException("--kubeconfig goes with --kubernetes.", CliException.Usage);
                }

                if (!Directory.Exists(path))
                {
                    throw new CliException(File.Exists(path)
                        ? $"'{path}' is a file; mesh analyze reads a directory (put the file in one)."
                        : $"the directory '{path}' does not exist.", CliException.Usage);
                }

                set = ControlPlaneValidation.ReadDirectory(path, result.GetValue(@namespace)!);
            }

            var (count, findings) = ConfigAnalyzer.Analyze(set);
            var shown = findings.Where(f => f.Level >= Enum.Parse<DiagnosticLevel>(result.GetValue(outputThreshold)!)).ToList();
            var format = global.GetOutput(result);
            var output = global.Context.Out;
            if (format != OutputFormat.Table)
            {
                StructuredOutput.Write(output, ToJson(shown), format);
            }
            else if (shown.Count == 0)
            {
                output.WriteLine($"No validation issues found when analyzing {path} ({count} resources).");
            }
            else
            {
                foreach (var finding in shown)
                {
                    output.WriteLine(finding.ToString());
                }
            }

            var threshold = Enum.Parse<DiagnosticLevel>(result.GetValue(failureThreshold)!);
            return findings.Any(f => f.Level >= threshold) ? FoundIssues : 0;
        });
        return command;
    }

    private static JsonArray ToJson(IReadOnlyList<Diagnostic> findings) =>
    [
        .. findings.Select(f => (JsonNode)new JsonObject
        {
            ["level"] = f.Level.ToString(),
            ["code"] = f.Code,
            ["name"] = f.Name,
            ["resource"] = f.Resource,
            ["origin"] = f.Origin,
            ["field"] = f.Field,
            ["message"] = f.Message,
        }),
    ];
}
