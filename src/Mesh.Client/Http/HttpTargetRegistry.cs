using System.Collections.Concurrent;
using Mesh.Client.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Http;

/// <summary>The HTTP targets of the application, one per name, shared by every HttpClient and the discovery provider.</summary>
internal sealed class HttpTargetRegistry(XdsClientProvider clients, ILoggerFactory loggers) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<HttpTarget>> _targets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _logger = loggers.CreateLogger<HttpTarget>();

    public HttpTarget Get(string name) =>
        _targets.GetOrAdd(name, n => new Lazy<HttpTarget>(() => new HttpTarget(clients.Client, n, _logger))).Value;

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
