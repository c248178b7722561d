using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// The configuration compiled into the control plane, used when it is started without <c>--config-dir</c>: a small
/// Bookinfo-shaped mesh on loopback, so a first run shows something real.
/// </summary>
public sealed class EmbeddedConfigSource : IConfigSource
{
    private readonly string _defaultNamespace;
    private ConfigSet? _current;

    /// <summary>Creates the source; resources that name no namespace get <paramref name="defaultNamespace"/>.</summary>
    public EmbeddedConfigSource(string defaultNamespace) => _defaultNamespace = defaultNamespace;

    /// <inheritdoc />
    public string Name => "embedded-default";

    /// <inheritdoc />
    public ConfigSet Current => _current ??= Read();

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public IChangeToken GetChangeToken() => new CancellationChangeToken(CancellationToken.None);

    private ConfigSet Read()
    {
        var assembly = typeof(EmbeddedConfigSource).Assembly;
        var resources = new List<ConfigResource>();
        var errors = new List<ConfigError>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("DefaultConfig/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            var set = YamlResourceReader.Read(reader.ReadToEnd(), "embedded:" + name, _defaultNamespace);
            resources.AddRange(set.Resources);
            errors.AddRange(set.Errors);
        }

        return new ConfigSet(resources, errors);
    }
}
