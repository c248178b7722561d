using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// Several sources as one: a YAML directory (for example ServiceEntries of VMs) and a Kubernetes cluster (everything
/// else). The content is every source's resources and errors; the token fires when any source changes. A resource
/// defined by two sources is reported by the model as a duplicate, naming both origins.
/// </summary>
public sealed class CompositeConfigSource : IConfigSource
{
    private readonly IReadOnlyList<IConfigSource> _sources;

    /// <summary>Combines <paramref name="sources"/>.</summary>
    public CompositeConfigSource(IReadOnlyList<IConfigSource> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        _sources = sources;
    }

    /// <summary>The combined sources.</summary>
    public IReadOnlyList<IConfigSource> Sources => _sources;

    /// <inheritdoc />
    public string Name => string.Join(" + ", _sources.Select(s => s.Name));

    /// <inheritdoc />
    public ConfigSet Current
    {
        get
        {
            var resources = new List<ConfigResource>();
            var errors = new List<ConfigError>();
            foreach (var source in _sources)
            {
                var set = source.Current;
                resources.AddRange(set.Resources);
                errors.AddRange(set.Errors);
            }

            return new ConfigSet(resources, errors);
        }
    }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var source in _sources)
        {
            await source.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public IChangeToken GetChangeToken() => new CompositeChangeToken([.. _sources.Select(s => s.GetChangeToken())]);
}
