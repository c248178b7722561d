using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Cli.Analyze;

/// <summary>
/// The one place the tool uses the control plane's own code: read a directory exactly as the control plane's YAML source
/// does, and validate it with the control plane's model builder, so <c>mesh analyze</c> rejects what the control plane
/// would reject, with the same file/resource/field messages. Everything else in the tool reads the control plane's HTTP
/// JSON instead.
/// </summary>
internal static class ControlPlaneValidation
{
    /// <summary>Reads and validates <paramref name="directory"/>: its resources, and the validator's errors and warnings as diagnostics.</summary>
    public static (IReadOnlyList<AnalyzedResource> Resources, IReadOnlyList<Diagnostic> Diagnostics) Validate(string directory, string defaultNamespace)
    {
        using var source = new YamlDirectorySource(directory, defaultNamespace, NullLogger<YamlDirectorySource>.Instance);
        var set = source.Current;
        var build = MeshModelBuilder.Build(set.Resources, version: 1);
        var resources = set.Resources.Select(r => new AnalyzedResource(r.ApiVersion, r.Kind, r.Namespace, r.Name, r.Origin, r.Body)).ToList();
        var diagnostics = set.Errors.Concat(build.Errors).Select(e => ToDiagnostic(e, DiagnosticLevel.Error, MessageCodes.SchemaValidationError))
            .Concat(build.Warnings.Select(e => ToDiagnostic(e, LevelOf(e), MessageCodes.SchemaWarning)))
            .ToList();
        return (resources, diagnostics);
    }

    /// <summary>
    /// A resource the control plane loads but does not apply to proxyless workloads (a Gateway, a Telemetry, …) is
    /// worth knowing, not a problem: Info, below the default failure threshold. Other validator warnings stay warnings.
    /// </summary>
    private static DiagnosticLevel LevelOf(ConfigError warning) =>
        warning.Message.StartsWith(MeshModelBuilder.NotAppliedPrefix, StringComparison.Ordinal) ? DiagnosticLevel.Info : DiagnosticLevel.Warning;

    private static Diagnostic ToDiagnostic(ConfigError error, DiagnosticLevel level, (string Code, string Name) message) =>
        new(level, message.Code, message.Name, error.Resource, error.Origin, error.Field, error.Message);
}
