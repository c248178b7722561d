using Mesh.Client.Bootstrap;
using Mesh.Client.Xds;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Internal;

/// <summary>
/// Holds the process's one <see cref="XdsClient"/> (per service provider), created on first use from the bootstrap:
/// every channel and HttpClient of the application shares its ADS stream and cache.
/// </summary>
internal sealed class XdsClientProvider : IAsyncDisposable
{
    private readonly Lazy<XdsClient> _client;

    public XdsClientProvider(IOptions<MeshClientOptions> options, TimeProvider time, ILoggerFactory loggers) =>
        _client = new Lazy<XdsClient>(() => new XdsClient(
            XdsBootstrap.Load(options.Value.BootstrapJson),
            time,
            loggers,
            options.Value.CacheDirectory is { Length: > 0 } directory ? directory : Environment.GetEnvironmentVariable(XdsResourceCache.EnvironmentVariable))
        {
            KeepAliveInterval = options.Value.XdsKeepAliveInterval,
            KeepAliveTimeout = options.Value.XdsKeepAliveTimeout,
        });

    public XdsClient Client => _client.Value;

    public bool IsCreated => _client.IsValueCreated;

    public async ValueTask DisposeAsync()
    {
        if (_client.IsValueCreated)
        {
            await _client.Value.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Checks at start-up that a bootstrap can be loaded, so a missing or bad one stops the app with a clear message.</summary>
internal sealed class MeshClientOptionsValidator : IValidateOptions<MeshClientOptions>
{
    public ValidateOptionsResult Validate(string? name, MeshClientOptions options)
    {
        if (options.FirstConfigurationWait <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail($"MeshClientOptions.FirstConfigurationWait must be positive (was {options.FirstConfigurationWait}).");
        }

        if (options.RetryBufferPerCallSize <= 0)
        {
            return ValidateOptionsResult.Fail($"MeshClientOptions.RetryBufferPerCallSize must be positive (was {options.RetryBufferPerCallSize}).");
        }

        try
        {
            _ = XdsBootstrap.Load(options.BootstrapJson);
            if (options.XdsKeepAliveInterval <= TimeSpan.Zero && options.XdsKeepAliveInterval != Timeout.InfiniteTimeSpan)
            {
                return ValidateOptionsResult.Fail("MeshClientOptions.XdsKeepAliveInterval must be positive (or infinite for no keepalive).");
            }

            if (options.XdsKeepAliveTimeout <= TimeSpan.Zero)
            {
                return ValidateOptionsResult.Fail("MeshClientOptions.XdsKeepAliveTimeout must be positive.");
            }

            return ValidateOptionsResult.Success;
        }
        catch (XdsBootstrapException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
