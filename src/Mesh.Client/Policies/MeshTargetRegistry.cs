using System.Collections.Concurrent;
using Mesh.Client.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Policies;

/// <summary>The targets of the application, one per name, shared by every interceptor, HttpClient and the discovery provider.</summary>
internal sealed class MeshTargetRegistry(XdsClientProvider clients, TimeProvider time, ILoggerFactory loggers, Security.CertificateProviderStore? certificates = null, Microsoft.Extensions.Options.IOptions<MeshClientOptions>? options = null, LoadBalancing.ClusterRegistry? clusters = null) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<MeshTarget>> _targets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _logger = loggers.CreateLogger<MeshTarget>();

    /// <summary>The target named <paramref name="name"/>, created on first use (a lookup allocates nothing once it exists).</summary>
    public MeshTarget Get(string name) =>
        _targets.TryGetValue(name, out var target) ? target.Value : _targets.GetOrAdd(name, static (n, registry) => registry.Create(n), this).Value;

    private Lazy<MeshTarget> Create(string name) =>
        new(() => new MeshTarget(clients.Client, name, time, _logger, certificates, options?.Value.FirstConfigurationWait, clusters));

    public void Dispose()
    {
        foreach (var target in _targets.Values)
        {
            if (target.IsValueCreated)
            {
                target.Value.Dispose();
            }
        }
    }
}
