using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane.Configuration;

/// <summary>
/// A place configuration comes from: a directory of YAML files, a Kubernetes API server, a registration API.
/// A source only reads and reports; turning resources into the mesh model is done once, for all sources, by
/// <see cref="Model.MeshModelBuilder"/>.
/// </summary>
public interface IConfigSource
{
    /// <summary>A short name for logs, for example <c>yaml:/etc/mesh</c>.</summary>
    string Name { get; }

    /// <summary>Reads the source for the first time (or again) and starts watching it.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>The source's current content.</summary>
    ConfigSet Current { get; }

    /// <summary>A token that fires when <see cref="Current"/> has changed.</summary>
    IChangeToken GetChangeToken();
}
