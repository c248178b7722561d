using System.Collections.Concurrent;
using Mesh.Client.Internal;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Policies;

/// <summary>The targets of the application, one per name, shared by every interceptor, HttpClient and the discovery provider.</summary>
internal sealed class MeshTargetRegistry(XdsClientProvider clients, TimeProvider time, ILoggerFactory loggers, Security.CertificateProviderStore? certificates = null, Microsoft.Extensions.Options.IOptions<MeshClientOptions>? options = null, LoadBalancing.ClusterRegistry? clusters = null) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<MeshTarget>> _targets = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _logger = loggers.CreateLogger<MeshTarget>();

    // HttpClient request authorities as spelled (case and all) → target and canonical authority, per scheme.
    private const int MaxAuthorities = 1024;
    private readonly ConcurrentDictionary<string, (MeshTarget Target, string Authority)> _httpAuthorities = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (MeshTarget Target, string Authority)> _httpsAuthorities = new(StringComparer.Ordinal);

    /// <summary>The target named <paramref name="name"/>, created on first use (a lookup allocates nothing once it exists).</summary>
    public MeshTarget Get(string name) =>
        _targets.TryGetValue(name, out var target) ? target.Value : _targets.GetOrAdd(name, static (n, registry) => registry.Create(n), this).Value;

    /// <summary>
    /// The target of an HttpClient request to <paramref name="uri"/> and its <paramref name="authority"/> (the URI's
    /// host, with the port unless it is the scheme's default), which names the target. Both depend only on the scheme and
    /// the authority as the URI spells it, so they are remembered by that text (bounded): a request to a known
    /// authority reads no part of its URI that would have to be parsed and allocated.
    /// </summary>
    public MeshTarget ForRequest(Uri uri, out string authority)
    {
        if (!Routing.RequestUriText.TrySplit(uri, out var https, out var text, out _))
        {
            authority = uri.IsDefaultPort ? uri.Host : uri.Authority;
            return Get(authority);
        }

        var known = (https ? _httpsAuthorities : _httpAuthorities).GetAlternateLookup<ReadOnlySpan<char>>();
        if (known.TryGetValue(text, out var entry))
        {
            authority = entry.Authority;
            return entry.Target;
        }

        authority = uri.IsDefaultPort ? uri.Host : uri.Authority;
        var target = Get(authority);
        if (known.Dictionary.Count < MaxAuthorities)
        {
            known.TryAdd(text, (target, authority));
        }

        return target;
    }

    private Lazy<MeshTarget> Create(string name) =>
        new(() => new MeshTarget(clients.Client, name, time, _logger, certificates, options?.Value.FirstConfigurationWait, clusters));

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
