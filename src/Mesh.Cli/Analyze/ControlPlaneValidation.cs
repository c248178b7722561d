using k8s;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Kubernetes;
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
    /// <summary>Reads <paramref name="directory"/> as the control plane's YAML source does.</summary>
    public static ConfigSet ReadDirectory(string directory, string defaultNamespace)
    {
        using var source = new YamlDirectorySource(directory, defaultNamespace, NullLogger<YamlDirectorySource>.Instance);
        return source.Current;
    }

    /// <summary>
    /// Lists every kind the control plane reads from the cluster <paramref name="kubeconfig"/> (or the default
    /// configuration) points at, as the control plane's Kubernetes source does; a kind the cluster does not serve is
    /// left out. Returns the server's address (for messages) and the resources.
    /// </summary>
    public static async Task<(string Server, ConfigSet Set)> ReadClusterAsync(string? kubeconfig, CancellationToken cancellationToken)
    {
        KubernetesClientConfiguration configuration;
        try
        {
            configuration = kubeconfig is null ? KubernetesClientConfiguration.BuildDefaultConfig() : KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
        }
        catch (Exception ex) when (ex is k8s.Exceptions.KubeConfigException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read the Kubernetes configuration{(kubeconfig is null ? string.Empty : " '" + kubeconfig + "'")}: {ex.Message}");
        }

        var options = new KubernetesSourceOptions { InitialSyncTimeout = TimeSpan.FromSeconds(15) };
        await using var source = new KubernetesConfigSource(configuration, options, TimeProvider.System, NullLoggerFactory.Instance);
        await source.StartAsync(cancellationToken).ConfigureAwait(false);
        if (!source.HasSynced)
        {
            throw new CliException($"cannot list the mesh's resources from the Kubernetes API server at {source.Server} within {options.InitialSyncTimeout.TotalSeconds:0} s.");
        }

        return (source.Server, source.Current);
    }

    /// <summary>Validates <paramref name="set"/>: its resources, and the validator's errors and warnings as diagnostics.</summary>
    public static (IReadOnlyList<AnalyzedResource> Resources, IReadOnlyList<Diagnostic> Diagnostics) Validate(ConfigSet set)
    {
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
