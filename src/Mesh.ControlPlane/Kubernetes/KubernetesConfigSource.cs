using System.Text.Json.Nodes;
using k8s;
using Mesh.ControlPlane.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>
/// Reads the mesh's configuration from a Kubernetes API server: one list/watch informer per kind
/// (<see cref="KubernetesSourceOptions.Kinds"/>), each with its own cache, and the published kinds handed to the model as
/// <see cref="ConfigResource"/>s whose origin is <c>k8s:Kind/namespace/name</c>. A kind that is missing or forbidden is
/// reported in <see cref="Status"/> and retried; the others go on. While the API server cannot be reached, the caches
/// keep the last state seen, so the snapshot built from them stays.
/// </summary>
public sealed partial class KubernetesConfigSource : IConfigSource, IAsyncDisposable
{
    private readonly KubernetesApi _api;
    private readonly KubernetesSourceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<ResourceInformer> _informers = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _running = [];
    private readonly FilterSelector? _discoverySelector;
    private CancellationTokenSource _changed = new();
    private ConfigSet? _current;
    private DateTimeOffset? _lastSynced;

    /// <summary>Creates a source that reads the cluster <paramref name="configuration"/> points at.</summary>
    public KubernetesConfigSource(KubernetesClientConfiguration configuration, KubernetesSourceOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _api = new KubernetesApi(configuration);
        _options = options;
        _time = time;
        _logger = loggers.CreateLogger<KubernetesConfigSource>();
        Server = configuration.Host;
        _discoverySelector = options.DiscoverySelector is { Length: > 0 } selector ? FilterSelector.Parse(selector) : null;
        var informerLogger = loggers.CreateLogger("Mesh.ControlPlane.Kubernetes.ResourceInformer");
        foreach (var kind in options.Kinds)
        {
            _informers.Add(new ResourceInformer(kind, _api, options, time, informerLogger, OnChanged));
        }
    }

    /// <summary>The API server's address.</summary>
    public string Server { get; }

    /// <inheritdoc />
    public string Name => "kubernetes:" + Server;

    /// <summary>The replica's leader election, once created, for /debug.</summary>
    internal KubernetesLeader? Leader { get; set; }

    /// <summary>The client the source reads with, for the status writer and leader election.</summary>
    internal KubernetesApi Api => _api;

    /// <summary>Every kind's informer as it stands.</summary>
    public IReadOnlyList<InformerStatus> Status => [.. _informers.Select(i => i.Status)];

    /// <summary>
    /// Whether every kind the server serves is listed and watched. False while the API server cannot be reached: the
    /// snapshot being served is then the last good one, built from what was seen before.
    /// </summary>
    public bool InSync => _informers.All(i => i.Status.State is InformerState.Watching or InformerState.Missing or InformerState.Forbidden);

    /// <summary>Whether every kind has had a first answer (a list, or missing/forbidden) since start.</summary>
    public bool HasSynced => _informers.All(i => i.FirstResult.IsCompleted);

    /// <summary>When the source was last entirely in sync, or null when it never was.</summary>
    public DateTimeOffset? LastSynced
    {
        get
        {
            if (InSync)
            {
                return _lastSynced = _time.GetUtcNow();
            }

            return _lastSynced;
        }
    }

    /// <summary>The cached objects of one kind (published or not), for the model's readers and tests.</summary>
    public IReadOnlyCollection<JsonObject> Objects(KubernetesKind kind) =>
        _informers.FirstOrDefault(i => i.Kind == kind)?.Items ?? [];

    /// <inheritdoc />
    public ConfigSet Current
    {
        get
        {
            lock (_lock)
            {
                return _current ??= Read();
            }
        }
    }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var informer in _informers)
        {
            _running.Add(Task.Run(() => informer.RunAsync(_stopping.Token), CancellationToken.None));
        }

        // Serve a first snapshot only once every kind has answered, so clients never see a half-read cluster; but do not
        // wait forever for an unreachable server: then the control plane starts empty and says so on /healthz/ready.
        var all = Task.WhenAll(_informers.Select(i => i.FirstResult));
        try
        {
            await all.WaitAsync(_options.InitialSyncTimeout, _time, cancellationToken).ConfigureAwait(false);
            Log.Synced(_logger, Server, _informers.Sum(i => i.Status.Objects));
        }
        catch (TimeoutException)
        {
            Log.NotSynced(_logger, Server, _options.InitialSyncTimeout, string.Join(", ", _informers.Where(i => !i.FirstResult.IsCompleted).Select(i => i.Kind.Resource)));
        }

        _ = LastSynced;
    }

    /// <inheritdoc />
    public IChangeToken GetChangeToken()
    {
        lock (_lock)
        {
            return new CancellationChangeToken(_changed.Token);
        }
    }

    private void OnChanged()
    {
        CancellationTokenSource fired;
        lock (_lock)
        {
            _current = null;
            fired = _changed;
            _changed = new CancellationTokenSource();
        }

        fired.Cancel();
        fired.Dispose();
    }

    private ConfigSet Read()
    {
        HashSet<string>? namespaces = null;
        if (_discoverySelector is not null)
        {
            namespaces = new HashSet<string>(StringComparer.Ordinal);
            foreach (var ns in Objects(KubernetesKind.Namespace))
            {
                if (_discoverySelector.Matches(ns["metadata"]?["labels"] as JsonObject) && ns["metadata"]?["name"]?.GetValue<string>() is { } name)
                {
                    namespaces.Add(name);
                }
            }
        }

        var resources = new List<ConfigResource>();
        foreach (var informer in _informers)
        {
            var kind = informer.Kind;
            if (!kind.Published)
            {
                continue;
            }

            foreach (var item in informer.Items.OrderBy(KeyOf, StringComparer.Ordinal))
            {
                var metadata = item["metadata"];
                var name = metadata?["name"]?.GetValue<string>() ?? string.Empty;
                var ns = kind.Namespaced ? metadata?["namespace"]?.GetValue<string>() ?? "default" : string.Empty;
                if (namespaces is not null && kind.Namespaced && !namespaces.Contains(ns))
                {
                    continue;
                }

                var origin = kind.Namespaced ? $"k8s:{kind.Kind}/{ns}/{name}" : $"k8s:{kind.Kind}/{name}";
                resources.Add(new ConfigResource(kind.ApiVersion, kind.Kind, ns, name, origin, item));
            }
        }

        return new ConfigSet(resources, []);
    }

    private static string KeyOf(JsonObject item) =>
        (item["metadata"]?["namespace"]?.GetValue<string>() ?? string.Empty) + "/" + item["metadata"]?["name"]?.GetValue<string>();

    /// <summary>Stops every informer; the caches keep what they hold.</summary>
    public async Task StopAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_running).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _changed.Dispose();
        _api.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Read the cluster at {Server}: {Objects} objects.")]
        public static partial void Synced(ILogger logger, string server, int objects);

        [LoggerMessage(2, LogLevel.Warning, "The cluster at {Server} did not answer within {Timeout} for {Kinds}; starting without them and retrying.")]
        public static partial void NotSynced(ILogger logger, string server, TimeSpan timeout, string kinds);
    }
}
