using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client;

/// <summary>Returned by <c>AddMesh()</c>, so further Mesh configuration can be chained.</summary>
public interface IMeshClientBuilder
{
    /// <summary>The service collection Mesh was added to.</summary>
    IServiceCollection Services { get; }
}
