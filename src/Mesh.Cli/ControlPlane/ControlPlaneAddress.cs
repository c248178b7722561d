using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Mesh.Cli.ControlPlane;

/// <summary>
/// Where the control plane's HTTP port is: <c>--control-plane URL</c>, else the <c>MESH_CONTROL_PLANE</c> variable,
/// else <c>controlPlane:</c> in the config file (<c>MESH_CONFIG</c>, default <c>~/.mesh/config.yaml</c>), else
/// <c>http://127.0.0.1:15014</c>.
/// </summary>
internal static class ControlPlaneAddress
{
    /// <summary>The environment variable naming the control plane.</summary>
    public const string Variable = "MESH_CONTROL_PLANE";

    /// <summary>The environment variable naming the config file.</summary>
    public const string ConfigVariable = "MESH_CONFIG";

    /// <summary>The address used when nothing names one: the control plane's default HTTP port on this machine.</summary>
    public static readonly Uri Default = new("http://127.0.0.1:15014/");

    /// <summary>Resolves the address; throws a usage <see cref="CliException"/> naming the source of a bad value.</summary>
    public static Uri Resolve(string? flag, CliContext context)
    {
        if (!string.IsNullOrWhiteSpace(flag))
        {
            return Parse(flag, "--control-plane");
        }

        if (context.GetVariable(Variable) is { Length: > 0 } variable)
        {
            return Parse(variable, Variable);
        }

        var path = ConfigFilePath(context);
        if (path is not null && File.Exists(path) && ReadConfigFile(path) is { } configured)
        {
            return Parse(configured, $"{path}: controlPlane");
        }

        return Default;
    }

    /// <summary>The config file's path: <c>MESH_CONFIG</c>, or <c>~/.mesh/config.yaml</c>.</summary>
    public static string? ConfigFilePath(CliContext context)
    {
        if (context.GetVariable(ConfigVariable) is { Length: > 0 } explicitPath)
        {
            return explicitPath;
        }

        var home = context.GetVariable("HOME") ?? context.GetVariable("USERPROFILE");
        return home is null ? null : Path.Combine(home, ".mesh", "config.yaml");
    }

    /// <summary>Turns <c>host:port</c> or a URL into the base URL of the control plane's HTTP port.</summary>
    public static Uri Parse(string text, string source)
    {
        var value = text.Trim();
        if (!value.Contains("://", StringComparison.Ordinal))
        {
            value = "http://" + value;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || string.IsNullOrEmpty(uri.Host))
        {
            throw new CliException($"{source}: '{text}' is not a control plane address (expected a URL like http://127.0.0.1:15014 or host:port).", CliException.Usage);
        }

        return new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
    }

    private static string? ReadConfigFile(string path)
    {
        try
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(path))
            {
                stream.Load(reader);
            }

            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            {
                return null;
            }

            return root.Children.TryGetValue(new YamlScalarNode("controlPlane"), out var node) && node is YamlScalarNode { Value: { Length: > 0 } v } ? v : null;
        }
        catch (YamlException ex)
        {
            throw new CliException($"{path}: not valid YAML: {ex.Message}", CliException.Usage, ex);
        }
    }
}
