using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Xds;

/// <summary>The persisted last-good configuration: writing accepted resources, serving them while the server is unreachable.</summary>
internal sealed partial class XdsClient
{
    /// <summary>
    /// Serves <paramref name="resource"/> from the persisted cache when it has no value and the cache has it (and it
    /// still validates). Called under the lock.
    /// </summary>
    private bool ServeFromCacheLocked(TypeState typeState, ResourceState resource, DateTimeOffset now, bool notify)
    {
        if (resource.Value is not null
            || !_cachedTypes.TryGetValue(resource.TypeUrl, out var cached)
            || !cached.Resources.TryGetValue(resource.Name, out var raw))
        {
            return false;
        }

        var result = Decode(typeState.Type, raw);
        if (!result.IsSuccess || result.Name != resource.Name)
        {
            Log.CachedResourceRejected(_logger, resource.TypeUrl, resource.Name, result.Error ?? "the name does not match");
            return false;
        }

        resource.Raw = raw;
        resource.Value = result.Resource;
        resource.Version = cached.Version;
        resource.Status = Envoy.Admin.V3.ClientResourceStatus.Acked;
        resource.LastUpdated = now;
        resource.CachedSavedAt = cached.SavedAt;
        if (notify)
        {
            ScheduleAll(resource, CallbackKind.Changed, result.Resource!);
        }

        return true;
    }

    /// <summary>After the stream failed before any response: serve every resource still without a value from the cache.</summary>
    private void ServeAllFromCacheLocked()
    {
        if (_cachedTypes.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var served = 0;
        foreach (var typeState in _types.Values)
        {
            foreach (var resource in typeState.Resources.Values)
            {
                if (ServeFromCacheLocked(typeState, resource, now, notify: true))
                {
                    served++;
                }
            }
        }

        if (served > 0)
        {
            MarkServingCacheLocked(served);
        }
    }

    private void MarkServingCacheLocked(int served)
    {
        if (_servingCacheSince is null)
        {
            _servingCacheSince = _time.GetUtcNow();
            var savedAt = _cachedTypes.Values.Min(t => t.SavedAt);
            Log.ServingCache(_logger, _cache!.Directory, savedAt, _servingCacheSince.Value, _server.ServerUri, _lastError ?? "not reached yet");
        }

        Log.ServedFromCache(_logger, served);
    }

    /// <summary>The first live response after serving from the cache: say so. Called under the lock.</summary>
    private void OnLiveResponseLocked()
    {
        if (_servingCacheSince is { } since)
        {
            _servingCacheSince = null;
            Log.LiveAgain(_logger, _server.ServerUri, _time.GetUtcNow() - since);
        }
    }

    /// <summary>Queues a write of every resource of the type that has a value. Called under the lock.</summary>
    private void EnqueueCacheWriteLocked(TypeState typeState)
    {
        if (_cache is null)
        {
            return;
        }

        var resources = new List<(string, Any)>(typeState.Resources.Count);
        foreach (var resource in typeState.Resources.Values)
        {
            if (resource.Raw is { } raw && resource.Value is not null)
            {
                resources.Add((resource.Name, raw));
            }
        }

        _cacheWrites.Writer.TryWrite(new CacheWrite(typeState.Type.TypeUrl, typeState.AckedVersion, resources));
    }

    private async Task RunCacheWriterAsync()
    {
        var reader = _cacheWrites.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Only the newest write of each type matters.
            var latest = new Dictionary<string, CacheWrite>(StringComparer.Ordinal);
            while (reader.TryRead(out var write))
            {
                latest[write.TypeUrl] = write;
            }

            foreach (var write in latest.Values)
            {
                _cache!.Save(write.TypeUrl, write.Version, write.Resources);
            }
        }
    }

    private readonly record struct CacheWrite(string TypeUrl, string Version, IReadOnlyList<(string Name, Any Resource)> Resources);

    private static partial class Log
    {
        [LoggerMessage(40, LogLevel.Warning, "Serving cached xDS configuration from {Directory} (saved at {SavedAt:O}) since {Since:O}: the xDS server {ServerUri} cannot be reached ({Error}); still trying.")]
        public static partial void ServingCache(ILogger logger, string directory, DateTimeOffset savedAt, DateTimeOffset since, string serverUri, string error);

        [LoggerMessage(41, LogLevel.Information, "Served {Count} xDS resources from the cache.")]
        public static partial void ServedFromCache(ILogger logger, int count);

        [LoggerMessage(42, LogLevel.Information, "Live xDS configuration from {ServerUri} again after serving the cache for {Duration}.")]
        public static partial void LiveAgain(ILogger logger, string serverUri, TimeSpan duration);

        [LoggerMessage(43, LogLevel.Warning, "The cached xDS resource {TypeUrl} '{Name}' is not used: {Error}")]
        public static partial void CachedResourceRejected(ILogger logger, string typeUrl, string name, string error);

        [LoggerMessage(45, LogLevel.Warning, "xDS server switched from {From} to {To} ({Role}): {Reason}.")]
        public static partial void ServerSwitched(ILogger logger, string from, string to, string role, string reason);

        [LoggerMessage(46, LogLevel.Debug, "The primary xDS server {ServerUri} is still down: {Error}")]
        public static partial void PrimaryStillDown(ILogger logger, string serverUri, string error);

        [LoggerMessage(44, LogLevel.Warning, "The xDS cache in {Directory} has nothing usable; starting empty: {Reason}")]
        public static partial void CacheEmpty(ILogger logger, string directory, string reason);
    }
}
