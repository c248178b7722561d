using System.Collections.Concurrent;
using Mesh.Client.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Policies;

/// <summary>The targets of the application, one per name, shared by every interceptor, HttpClient and the discovery provider.</summary>
internal sealed class MeshTargetRegistry(XdsClientProvider clients, TimeProvider time, ILoggerFactory loggers, Security.CertificateProviderStore? certificates = null, Microsoft.Extensions.Options.IOptions<MeshClientOptions>? options = null, LoadBalancing.ClusterRegistry? clusters = null) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<MeshTarget>> _targets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _logger = loggers.CreateLogger<MeshTarget>();

    public MeshTarget Get(string name) =>
        _targets.GetOrAdd(name, n => new Lazy<MeshTarget>(() => new MeshTarget(clients.Client, n, time, _logger, certificates, options?.Value.FirstConfigurationWait, clusters))).Value;

    /// <summary>
    /// The target of one virtual host of a gateway's listener (a gateway routes each virtual host of its route
    /// configuration through the same machinery as a client's target).
    /// </summary>
    public MeshTarget Get(GatewayRoute route) =>
        _targets.GetOrAdd(route.Listener + "#" + route.VirtualHost, _ => new Lazy<MeshTarget>(() => new MeshTarget(clients.Client, route.Listener, time, _logger, certificates, options?.Value.FirstConfigurationWait, clusters, route.VirtualHost))).Value;

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
