using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Kubernetes;

/// <summary>
/// List and watch of one kind across all namespaces into a local cache, with client-go's informer semantics: the
/// watch resumes from the last resourceVersion seen (events, and bookmarks without events); 410 Gone means the
/// history is gone, so the kind is listed again and the cache replaced by the list; a failure is retried with
/// exponential backoff; a kind the server does not serve (404) or refuses (403) is reported and retried without
/// holding up the other kinds.
/// </summary>
internal sealed partial class ResourceInformer
{
    private readonly KubernetesApi _api;
    private readonly KubernetesSourceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action _changed;
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _firstResult = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, JsonObject> _items = new(StringComparer.Ordinal);
    private InformerStatus _status;
    private int _eventsInWatch;

    public ResourceInformer(KubernetesKind kind, KubernetesApi api, KubernetesSourceOptions options, TimeProvider time, ILogger logger, Action changed)
    {
        Kind = kind;
        _api = api;
        _options = options;
        _time = time;
        _logger = logger;
        _changed = changed;
        _status = new InformerStatus(kind, InformerState.Starting, 0, null, time.GetUtcNow(), null, 0);
    }

    public KubernetesKind Kind { get; }

    public InformerStatus Status
    {
        get
        {
            lock (_lock)
            {
                return _status;
            }
        }
    }

    /// <summary>Completes when the first list succeeded, or the kind turned out missing or forbidden.</summary>
    public Task FirstResult => _firstResult.Task;

    /// <summary>The cached objects.</summary>
    public IReadOnlyCollection<JsonObject> Items
    {
        get
        {
            lock (_lock)
            {
                return [.. _items.Values];
            }
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        string? resourceVersion = null;
        var backoff = _options.BackoffInitial;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    resourceVersion = await ListAsync(cancellationToken).ConfigureAwait(false);
                    backoff = _options.BackoffInitial;
                }

                var (next, gone, events) = await WatchAsync(resourceVersion, cancellationToken).ConfigureAwait(false);
                if (gone)
                {
                    Log.Expired(_logger, Kind.Resource, resourceVersion);
                    resourceVersion = null;
                    continue;
                }

                resourceVersion = next;
                if (events == 0)
                {
                    // A watch the server ended without a single event or bookmark: do not spin on it.
                    await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
                    backoff = Next(backoff);
                }
                else
                {
                    backoff = _options.BackoffInitial;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (HttpOperationException ex) when (ex.Response?.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
            {
                var forbidden = ex.Response.StatusCode == HttpStatusCode.Forbidden;
                var message = forbidden
                    ? $"the API server forbids listing {Kind.Resource}: {Reason(ex)}"
                    : $"the API server does not serve {Kind.Resource} (is its CustomResourceDefinition installed?)";
                SetState(forbidden ? InformerState.Forbidden : InformerState.Missing, message, clear: true);
                if (forbidden)
                {
                    Log.Forbidden(_logger, Kind.Resource, message);
                }
                else
                {
                    Log.Missing(_logger, Kind.Resource);
                }

                _firstResult.TrySetResult();
                resourceVersion = null;
                if (!await DelayAsync(_options.RetryUnavailableKind, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (HttpOperationException ex) when (ex.Response?.StatusCode == HttpStatusCode.Gone)
            {
                Log.Expired(_logger, Kind.Resource, resourceVersion);
                resourceVersion = null;
            }
            catch (Exception ex) when (ex is HttpOperationException or HttpRequestException or IOException or JsonException or InvalidOperationException
                or OperationCanceledException or FormatException)
            {
                // The server is unreachable or failed: keep the cache (the last state seen) and retry. The watch resumes
                // from the version reached; if the history has moved past it by then, the server says 410 and we relist.
                // A watch that was delivering events and then broke (a connection reset) is not a failing server: the
                // backoff starts over.
                if (Interlocked.Exchange(ref _eventsInWatch, 0) > 0)
                {
                    backoff = _options.BackoffInitial;
                }

                SetState(InformerState.Disconnected, ex.Message, clear: false);
                Log.Failed(_logger, Kind.Resource, backoff, ex.Message);
                if (!await DelayAsync(backoff, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                backoff = Next(backoff);
            }
        }
    }

    private TimeSpan Next(TimeSpan backoff) => TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.BackoffMax.Ticks));

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Lists every page and replaces the cache; returns the list's resourceVersion.</summary>
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        var items = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        string? continueToken = null;
        string? resourceVersion;
        do
        {
            var uri = $"{Kind.CollectionPath}?limit={_options.PageSize.ToString(CultureInfo.InvariantCulture)}";
            if (continueToken is not null)
            {
                uri += "&continue=" + Uri.EscapeDataString(continueToken);
            }

            var list = await _api.SendForObjectAsync(uri, HttpMethod.Get, null, cancellationToken).ConfigureAwait(false);
            resourceVersion = list["metadata"]?["resourceVersion"]?.GetValue<string>();
            continueToken = list["metadata"]?["continue"]?.GetValue<string>() is { Length: > 0 } token ? token : null;
            foreach (var node in list["items"]?.AsArray() ?? [])
            {
                if (node is JsonObject item && KeyOf(item) is { } key)
                {
                    // List items carry no kind of their own in real servers.
                    items[key] = Cached((JsonObject)item.DeepClone());
                }
            }
        }
        while (continueToken is not null);

        if (resourceVersion is null)
        {
            throw new FormatException($"the list of {Kind.Resource} has no metadata.resourceVersion");
        }

        bool changed;
        lock (_lock)
        {
            changed = !SameContent(_items, items);
            _items = items;
            _status = _status with
            {
                State = InformerState.Watching,
                Objects = items.Count,
                ResourceVersion = resourceVersion,
                Since = _time.GetUtcNow(),
                LastError = null,
                Relists = _status.Relists + 1,
            };
        }

        Log.Listed(_logger, Kind.Resource, items.Count, resourceVersion);
        _firstResult.TrySetResult();
        if (changed)
        {
            _changed();
        }

        return resourceVersion;
    }

    /// <summary>Watches from <paramref name="resourceVersion"/> until the server ends the stream; returns the version reached.</summary>
    private async Task<(string ResourceVersion, bool Gone, int Events)> WatchAsync(string resourceVersion, CancellationToken cancellationToken)
    {
        var timeout = (int)Math.Max(1, _options.WatchTimeout.TotalSeconds);
        var uri = $"{Kind.CollectionPath}?watch=true&allowWatchBookmarks=true&resourceVersion={Uri.EscapeDataString(resourceVersion)}&timeoutSeconds={timeout.ToString(CultureInfo.InvariantCulture)}";
        using var response = await _api.SendAsync(uri, HttpMethod.Get, null, cancellationToken).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream);
        var events = 0;
        _eventsInWatch = 0;
        SetWatching();
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            var watchEvent = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("a watch event is not a JSON object");
            var type = watchEvent["type"]?.GetValue<string>();
            var item = watchEvent["object"] as JsonObject ?? throw new JsonException("a watch event has no object");
            events++;
            _eventsInWatch = events;
            if (type == "ERROR")
            {
                var code = item["code"]?.GetValue<int>();
                if (code == 410)
                {
                    return (resourceVersion, true, events);
                }

                throw new InvalidOperationException($"the watch of {Kind.Resource} failed: {item["message"]?.GetValue<string>() ?? line}");
            }

            if (item["metadata"]?["resourceVersion"]?.GetValue<string>() is { Length: > 0 } version)
            {
                resourceVersion = version;
            }

            if (type == "BOOKMARK")
            {
                lock (_lock)
                {
                    _status = _status with { ResourceVersion = resourceVersion };
                }

                continue;
            }

            if (KeyOf(item) is not { } key)
            {
                continue;
            }

            var relevant = true;
            lock (_lock)
            {
                switch (type)
                {
                    case "ADDED" or "MODIFIED":
                        item = Cached(item);
                        relevant = !Kind.LabelsOnly
                            || !_items.TryGetValue(key, out var previous)
                            || !JsonNode.DeepEquals(previous["metadata"]?["labels"], item["metadata"]?["labels"]);
                        _items[key] = item;
                        break;
                    case "DELETED":
                        _items.Remove(key);
                        break;
                    default:
                        throw new JsonException($"unknown watch event type '{type}'");
                }

                _status = _status with { Objects = _items.Count, ResourceVersion = resourceVersion };
            }

            if (relevant)
            {
                _changed();
            }
        }

        return (resourceVersion, false, events);
    }

    private void SetWatching()
    {
        lock (_lock)
        {
            if (_status.State != InformerState.Watching)
            {
                _status = _status with { State = InformerState.Watching, Since = _time.GetUtcNow(), LastError = null };
            }
        }
    }

    private void SetState(InformerState state, string error, bool clear)
    {
        var changed = false;
        lock (_lock)
        {
            if (clear && _items.Count > 0)
            {
                // The kind is gone (CRD deleted) or no longer ours to read: its objects no longer apply.
                _items = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
                changed = true;
            }

            _status = _status with
            {
                State = state,
                Objects = _items.Count,
                Since = _status.State == state ? _status.Since : _time.GetUtcNow(),
                LastError = error,
            };
        }

        if (changed)
        {
            _changed();
        }
    }

    private static string Reason(HttpOperationException ex)
    {
        try
        {
            return JsonNode.Parse(ex.Response.Content)?["message"]?.GetValue<string>() ?? ex.Message;
        }
        catch (JsonException)
        {
            return ex.Message;
        }
    }

    private static string? KeyOf(JsonObject item)
    {
        var metadata = item["metadata"];
        var name = metadata?["name"]?.GetValue<string>();
        return name is null ? null : (metadata?["namespace"]?.GetValue<string>() ?? string.Empty) + "/" + name;
    }

    /// <summary>
    /// <paramref name="item"/> as the cache keeps it: with its apiVersion and kind, and for a
    /// <see cref="KubernetesKind.LabelsOnly"/> kind only its name, namespace, resourceVersion and labels.
    /// </summary>
    private JsonObject Cached(JsonObject item)
    {
        if (Kind.LabelsOnly && item["metadata"] is JsonObject metadata)
        {
            var kept = new JsonObject();
            foreach (var field in (string[])["name", "namespace", "resourceVersion", "labels"])
            {
                if (metadata[field] is { } value)
                {
                    kept[field] = value.DeepClone();
                }
            }

            item = new JsonObject { ["metadata"] = kept };
        }

        item["apiVersion"] = Kind.ApiVersion;
        item["kind"] = Kind.Kind;
        return item;
    }

    private static bool SameContent(Dictionary<string, JsonObject> before, Dictionary<string, JsonObject> after)
    {
        if (before.Count != after.Count)
        {
            return false;
        }

        foreach (var (key, item) in after)
        {
            if (!before.TryGetValue(key, out var old)
                || old["metadata"]?["resourceVersion"]?.GetValue<string>() != item["metadata"]?["resourceVersion"]?.GetValue<string>())
            {
                return false;
            }
        }

        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Listed {Resource}: {Count} objects at resourceVersion {ResourceVersion}.")]
        public static partial void Listed(ILogger logger, string resource, int count, string resourceVersion);

        [LoggerMessage(2, LogLevel.Information, "The watch of {Resource} expired at resourceVersion {ResourceVersion} (410 Gone); listing again.")]
        public static partial void Expired(ILogger logger, string resource, string? resourceVersion);

        [LoggerMessage(3, LogLevel.Warning, "The API server does not serve {Resource} (is its CustomResourceDefinition installed?); the other kinds go on, and it is tried again.")]
        public static partial void Missing(ILogger logger, string resource);

        [LoggerMessage(4, LogLevel.Warning, "Reading {Resource} is forbidden: {Message}; the other kinds go on, and it is tried again.")]
        public static partial void Forbidden(ILogger logger, string resource, string message);

        [LoggerMessage(5, LogLevel.Warning, "Reading {Resource} failed, retrying in {Delay}: {Message}")]
        public static partial void Failed(ILogger logger, string resource, TimeSpan delay, string message);
    }
}
