using Mesh.Client.Bootstrap;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Security;

/// <summary>
/// The certificate provider instances of the bootstrap's <c>certificate_providers</c>, by instance name, as xDS TLS
/// contexts name them (<c>CertificateProviderPluginInstance.instance_name</c>). One per application, registered by
/// <c>AddMesh()</c>; each provider is created and started on its first <see cref="Get"/> and shared after that.
/// </summary>
public sealed partial class CertificateProviderStore : IDisposable
{
    private readonly Lazy<XdsBootstrap> _bootstrap;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly Dictionary<string, CertificateProvider?> _providers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _disposed;

    internal CertificateProviderStore(Func<XdsBootstrap> bootstrap, TimeProvider time, ILoggerFactory loggers)
    {
        _bootstrap = new Lazy<XdsBootstrap>(bootstrap);
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<CertificateProviderStore>();
    }

    /// <summary>
    /// The started provider for <paramref name="instanceName"/>; null when the bootstrap has no such instance or it
    /// uses a plugin Mesh does not have (an xDS resource naming it should then be rejected).
    /// </summary>
    /// <param name="instanceName">The key in the bootstrap's <c>certificate_providers</c>.</param>
    /// <returns>The provider, or null.</returns>
    /// <exception cref="XdsBootstrapException">The bootstrap cannot be loaded.</exception>
    public CertificateProvider? Get(string instanceName)
    {
        ArgumentNullException.ThrowIfNull(instanceName);
        CertificateProvider? provider;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_providers.TryGetValue(instanceName, out provider))
            {
                provider = Create(instanceName);
                _providers[instanceName] = provider;
            }
        }

        provider?.EnsureStarted();
        return provider;
    }

    /// <summary>Stops every provider.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var provider in _providers.Values)
            {
                provider?.Dispose();
            }

            _providers.Clear();
        }
    }

    /// <summary>Creates the store for a service provider: the bootstrap from <see cref="MeshClientOptions"/>, as the xDS client reads it.</summary>
    internal static CertificateProviderStore Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<MeshClientOptions>>();
        return new CertificateProviderStore(
            () => XdsBootstrap.Load(options.Value.BootstrapJson), services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILoggerFactory>());
    }

    private CertificateProvider? Create(string instanceName)
    {
        var bootstrap = _bootstrap.Value;
        if (!bootstrap.CertificateProviders.TryGetValue(instanceName, out var entry))
        {
            Log.UnknownInstance(_logger, instanceName, bootstrap.Origin);
            return null;
        }

        var errors = new List<string>();
        var config = CertificateProviderPlugins.ReadConfig(entry.PluginName, entry.Config, $"certificate_providers.{instanceName}", errors);
        if (errors.Count > 0)
        {
            throw new XdsBootstrapException(bootstrap.Origin, errors);
        }

        switch (config)
        {
            case FileWatcherConfig fileWatcher:
                return new FileWatcherCertificateProvider(fileWatcher, _time, _loggers.CreateLogger<FileWatcherCertificateProvider>());
            case MeshCaConfig meshCa:
                return new MeshCaCertificateProvider(meshCa, _time, _loggers.CreateLogger<MeshCaCertificateProvider>());
            default:
                Log.UnsupportedPlugin(_logger, instanceName, entry.PluginName);
                return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "The certificate provider instance '{Instance}' is not in the bootstrap ({Origin}).")]
        public static partial void UnknownInstance(ILogger logger, string instance, string origin);

        [LoggerMessage(2, LogLevel.Warning, "The certificate provider instance '{Instance}' uses the plugin '{Plugin}', which Mesh does not have (it has file_watcher and mesh_ca).")]
        public static partial void UnsupportedPlugin(ILogger logger, string instance, string plugin);
    }
}
