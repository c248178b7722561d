using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Client.Security;

/// <summary>
/// A source of <see cref="WorkloadCertificate"/>s that may change over time: an instance of a bootstrap
/// <c>certificate_providers</c> entry (gRFC A29), e.g. <c>file_watcher</c> or <c>mesh_ca</c>. Get one from
/// <see cref="CertificateProviderStore"/>.
/// </summary>
public abstract partial class CertificateProvider : IDisposable
{
    private readonly TaskCompletionSource<WorkloadCertificate> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WorkloadCertificate? _current;
    private Exception? _lastError;
    private int _started;
    private int _disposed;

    /// <summary>Creates a provider.</summary>
    /// <param name="logger">Where to report failures of <see cref="Changed"/> handlers; defaults to nowhere.</param>
    protected CertificateProvider(ILogger? logger = null) => Logger = logger ?? NullLogger.Instance;

    /// <summary>The plugin's name, e.g. <c>file_watcher</c>.</summary>
    public abstract string PluginName { get; }

    /// <summary>The current certificate; null until the first one arrived.</summary>
    public WorkloadCertificate? Current => Volatile.Read(ref _current);

    /// <summary>The most recent failure to obtain or reload a certificate; null after a success.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>The logger.</summary>
    protected ILogger Logger { get; }

    /// <summary>Raised after <see cref="Current"/> was replaced, with the new certificate. Handlers must be quick.</summary>
    public event Action<WorkloadCertificate>? Changed;

    /// <summary>Completes with the first certificate (at once when <see cref="Current"/> is already set).</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The certificate.</returns>
    public Task<WorkloadCertificate> WaitForCertificateAsync(CancellationToken cancellationToken)
    {
        EnsureStarted();
        return Current is { } current ? Task.FromResult(current) : _first.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Dispose(true);
            _first.TrySetException(new ObjectDisposedException(GetType().Name));
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Starts the provider (called once, on first use): load or request the first certificate, start watching or renewing.</summary>
    protected abstract void Start();

    /// <summary>Stops the provider.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Replaces <see cref="Current"/>, clears <see cref="LastError"/>, and raises <see cref="Changed"/>.</summary>
    /// <param name="certificate">The new certificate.</param>
    protected void Publish(WorkloadCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Volatile.Write(ref _current, certificate);
        Volatile.Write(ref _lastError, null);
        _first.TrySetResult(certificate);
        if (Changed is not { } handlers)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((Action<WorkloadCertificate>)handler)(certificate);
            }
            catch (Exception ex)
            {
                Log.HandlerFailed(Logger, PluginName, ex);
            }
        }
    }

    /// <summary>Records a failure in <see cref="LastError"/>; <see cref="Current"/> is kept.</summary>
    /// <param name="error">What went wrong.</param>
    protected void ReportError(Exception error) => Volatile.Write(ref _lastError, error);

    /// <summary>Starts the provider unless it was started already.</summary>
    internal void EnsureStarted()
    {
        if (Volatile.Read(ref _disposed) == 0 && Interlocked.Exchange(ref _started, 1) == 0)
        {
            Start();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "A handler of the {Plugin} certificate provider's Changed event failed.")]
        public static partial void HandlerFailed(ILogger logger, string plugin, Exception exception);
    }
}
