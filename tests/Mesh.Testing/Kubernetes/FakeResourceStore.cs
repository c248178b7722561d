using System.Globalization;
using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>
/// The fake API server's objects: one store for every type, with one resourceVersion counter (as etcd's revision),
/// an event history per type for watches that resume, and the open watches. Tests may change objects directly
/// here; every change is seen by watches exactly as a change through the API would be.
/// </summary>
public sealed class FakeResourceStore
{
    private const int HistoryLimit = 20_000;
    private readonly Lock _lock = new();
    private readonly Dictionary<FakeResourceType, TypeState> _types = [];
    private long _resourceVersion = 100;

    internal FakeResourceStore(IEnumerable<FakeResourceType> types)
    {
        foreach (var type in types)
        {
            _types[type] = new TypeState();
        }
    }

    /// <summary>The types this store holds.</summary>
    public IReadOnlyCollection<FakeResourceType> Types => _types.Keys;

    /// <summary>The latest resourceVersion given out.</summary>
    public long ResourceVersion
    {
        get
        {
            lock (_lock)
            {
                return _resourceVersion;
            }
        }
    }

    /// <summary>How many watch streams are open.</summary>
    public int OpenWatches
    {
        get
        {
            lock (_lock)
            {
                return _types.Values.Sum(t => t.Watches.Count);
            }
        }
    }

    /// <summary>How many watch streams were opened since the start.</summary>
    public int WatchesOpened { get; private set; }

    /// <summary>Finds the type of <paramref name="apiVersion"/> and <paramref name="kind"/>.</summary>
    public FakeResourceType TypeOf(string apiVersion, string kind) =>
        _types.Keys.FirstOrDefault(t => t.ApiVersion == apiVersion && t.Kind == kind)
            ?? throw new ArgumentException($"the fake serves no {kind} in {apiVersion}", nameof(kind));

    /// <summary>Creates or replaces <paramref name="item"/> (no resourceVersion check), as a controller would; returns the stored copy.</summary>
    public JsonObject Upsert(JsonObject item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var type = TypeOf(item["apiVersion"]!.GetValue<string>(), item["kind"]!.GetValue<string>());
        var ns = type.Namespaced ? item["metadata"]?["namespace"]?.GetValue<string>() ?? "default" : null;
        var name = item["metadata"]!["name"]!.GetValue<string>();
        lock (_lock)
        {
            var state = _types[type];
            if (state.Objects.TryGetValue(Key(ns, name), out var existing))
            {
                var copy = (JsonObject)item.DeepClone();
                copy["metadata"]!["resourceVersion"] = existing["metadata"]!["resourceVersion"]!.DeepClone();
                return ReplaceLocked(type, ns, name, copy, statusOnly: false, keepStatus: false);
            }

            return CreateLocked(type, ns, (JsonObject)item.DeepClone());
        }
    }

    /// <summary>Deletes an object; returns whether it existed.</summary>
    public bool Delete(FakeResourceType type, string? @namespace, string name)
    {
        lock (_lock)
        {
            try
            {
                DeleteLocked(type, type.Namespaced ? @namespace ?? "default" : null, name);
                return true;
            }
            catch (FakeApiException)
            {
                return false;
            }
        }
    }

    /// <summary>A copy of one object, or null.</summary>
    public JsonObject? Get(FakeResourceType type, string? @namespace, string name)
    {
        lock (_lock)
        {
            return _types[type].Objects.TryGetValue(Key(type.Namespaced ? @namespace ?? "default" : null, name), out var item) ? (JsonObject)item.DeepClone() : null;
        }
    }

    /// <summary>Copies of every object of <paramref name="type"/> (in <paramref name="namespace"/> when given).</summary>
    public IReadOnlyList<JsonObject> List(FakeResourceType type, string? @namespace = null)
    {
        lock (_lock)
        {
            return [.. _types[type].Objects.Values.Where(o => @namespace is null || NamespaceOf(o) == @namespace).Select(o => (JsonObject)o.DeepClone())];
        }
    }

    /// <summary>
    /// Forgets the event history (as etcd compaction does): a watch that resumes from any resourceVersion given out
    /// so far gets <c>410 Gone</c> and must list again.
    /// </summary>
    public void Compact()
    {
        lock (_lock)
        {
            foreach (var state in _types.Values)
            {
                state.History.Clear();
                state.CompactedThrough = _resourceVersion;
            }
        }
    }

    /// <summary>
    /// Closes every open watch stream from the server side (what an API server restart or a load balancer does): the
    /// stream ends cleanly, or with <paramref name="abort"/> the connection is reset mid-stream.
    /// </summary>
    public int DropWatches(bool abort = false)
    {
        lock (_lock)
        {
            var count = 0;
            foreach (var state in _types.Values)
            {
                foreach (var watch in state.Watches)
                {
                    watch.Close(abort);
                    count++;
                }

                state.Watches.Clear();
            }

            return count;
        }
    }

    // ---- the API's operations ------------------------------------------------------------------------------

    internal (IReadOnlyList<JsonObject> Items, long ResourceVersion, int Total) ListPage(FakeResourceType type, string? ns, FakeSelector selector, int offset, int limit)
    {
        lock (_lock)
        {
            var all = _types[type].Objects.Values.Where(o => (ns is null || NamespaceOf(o) == ns) && selector.Matches(o)).ToList();
            var page = all.Skip(offset).Take(limit).Select(o => (JsonObject)o.DeepClone()).ToList();
            return (page, _resourceVersion, all.Count);
        }
    }

    internal JsonObject Read(FakeResourceType type, string? ns, string name)
    {
        lock (_lock)
        {
            return _types[type].Objects.TryGetValue(Key(ns, name), out var item)
                ? (JsonObject)item.DeepClone()
                : throw NotFound(type, name);
        }
    }

    internal JsonObject Create(FakeResourceType type, string? ns, JsonObject item)
    {
        lock (_lock)
        {
            return CreateLocked(type, ns, item);
        }
    }

    internal JsonObject Replace(FakeResourceType type, string? ns, string name, JsonObject item, bool statusOnly)
    {
        lock (_lock)
        {
            return ReplaceLocked(type, ns, name, item, statusOnly, keepStatus: type.HasStatus && !statusOnly);
        }
    }

    internal JsonObject Patch(FakeResourceType type, string? ns, string name, JsonNode patch, bool statusOnly)
    {
        lock (_lock)
        {
            var state = _types[type];
            if (!state.Objects.TryGetValue(Key(ns, name), out var existing))
            {
                throw NotFound(type, name);
            }

            var patched = (JsonObject)FakeMergePatch.Apply(existing, patch)!;
            if (patch["metadata"]?["resourceVersion"] is null)
            {
                patched["metadata"]!["resourceVersion"] = existing["metadata"]!["resourceVersion"]!.DeepClone();
            }

            return ReplaceLocked(type, ns, name, patched, statusOnly, keepStatus: type.HasStatus && !statusOnly);
        }
    }

    internal JsonObject Remove(FakeResourceType type, string? ns, string name)
    {
        lock (_lock)
        {
            return DeleteLocked(type, ns, name);
        }
    }

    /// <summary>
    /// Opens a watch from <paramref name="resourceVersion"/>: empty or "0" starts with an ADDED event per object;
    /// a version the history no longer holds gives a 410 ERROR event and the end of the stream.
    /// </summary>
    internal FakeWatch OpenWatch(FakeResourceType type, string? ns, FakeSelector selector, string? resourceVersion)
    {
        lock (_lock)
        {
            var state = _types[type];
            var watch = new FakeWatch(type, ns, selector);
            WatchesOpened++;
            if (string.IsNullOrEmpty(resourceVersion) || resourceVersion == "0")
            {
                foreach (var item in state.Objects.Values)
                {
                    if (Matches(watch, item))
                    {
                        watch.Write(Event("ADDED", item));
                    }
                }
            }
            else
            {
                if (!long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var from))
                {
                    throw new FakeApiException(400, "BadRequest", $"invalid resourceVersion '{resourceVersion}'");
                }

                if (from < state.CompactedThrough)
                {
                    var gone = FakeApiException.Status(410, "Expired", $"too old resource version: {from} ({state.CompactedThrough})");
                    watch.Write(new JsonObject { ["type"] = "ERROR", ["object"] = gone }.ToJsonString());
                    watch.Close();
                    return watch;
                }

                foreach (var (version, line, item) in state.History)
                {
                    if (version > from && Matches(watch, item))
                    {
                        watch.Write(line);
                    }
                }
            }

            state.Watches.Add(watch);
            return watch;
        }
    }

    internal void CloseWatch(FakeWatch watch)
    {
        lock (_lock)
        {
            _types[watch.Type].Watches.Remove(watch);
            watch.Close();
        }
    }

    /// <summary>Queues a BOOKMARK with the current resourceVersion on <paramref name="watch"/> (under the lock, so it follows every event before it).</summary>
    internal void Bookmark(FakeWatch watch)
    {
        lock (_lock)
        {
            watch.Write(new JsonObject
            {
                ["type"] = "BOOKMARK",
                ["object"] = new JsonObject
                {
                    ["kind"] = watch.Type.Kind,
                    ["apiVersion"] = watch.Type.ApiVersion,
                    ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                },
            }.ToJsonString());
        }
    }

    // ---- under the lock ------------------------------------------------------------------------------------

    private JsonObject CreateLocked(FakeResourceType type, string? ns, JsonObject item)
    {
        var metadata = item["metadata"] as JsonObject ?? [];
        item["metadata"] = metadata;
        var name = metadata["name"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name) && metadata["generateName"]?.GetValue<string>() is { Length: > 0 } prefix)
        {
            name = prefix + Guid.NewGuid().ToString("N")[..5];
        }

        if (string.IsNullOrEmpty(name))
        {
            throw new FakeApiException(422, "Invalid", $"{type.Kind} \"\" is invalid: metadata.name: Required value: name or generateName is required");
        }

        var state = _types[type];
        if (state.Objects.ContainsKey(Key(ns, name)))
        {
            throw new FakeApiException(409, "AlreadyExists", $"{type.Plural}{(type.Group.Length > 0 ? "." + type.Group : string.Empty)} \"{name}\" already exists");
        }

        item["apiVersion"] = type.ApiVersion;
        item["kind"] = type.Kind;
        metadata["name"] = name;
        if (ns is not null)
        {
            metadata["namespace"] = ns;
        }
        else
        {
            metadata.Remove("namespace");
        }

        metadata["uid"] = Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        metadata["generation"] = 1L;
        metadata["resourceVersion"] = NextVersion();
        state.Objects[Key(ns, name)] = item;
        Publish(state, "ADDED", item);
        return (JsonObject)item.DeepClone();
    }

    private JsonObject ReplaceLocked(FakeResourceType type, string? ns, string name, JsonObject item, bool statusOnly, bool keepStatus)
    {
        var state = _types[type];
        if (!state.Objects.TryGetValue(Key(ns, name), out var existing))
        {
            throw NotFound(type, name);
        }

        var given = item["metadata"]?["resourceVersion"]?.GetValue<string>();
        var current = existing["metadata"]!["resourceVersion"]!.GetValue<string>();
        if (!string.IsNullOrEmpty(given) && given != current)
        {
            throw new FakeApiException(409, "Conflict",
                $"Operation cannot be fulfilled on {type.Plural}{(type.Group.Length > 0 ? "." + type.Group : string.Empty)} \"{name}\": the object has been modified; please apply your changes to the latest version and try again");
        }

        JsonObject updated;
        if (statusOnly)
        {
            updated = (JsonObject)existing.DeepClone();
            updated["status"] = item["status"]?.DeepClone();
        }
        else
        {
            updated = (JsonObject)item.DeepClone();
            var metadata = updated["metadata"] as JsonObject ?? [];
            updated["metadata"] = metadata;
            var old = (JsonObject)existing["metadata"]!;
            foreach (var kept in new[] { "uid", "creationTimestamp", "generation", "namespace", "name" })
            {
                metadata[kept] = old[kept]?.DeepClone();
            }

            if (ns is null)
            {
                metadata.Remove("namespace");
            }

            updated["apiVersion"] = type.ApiVersion;
            updated["kind"] = type.Kind;
            if (keepStatus)
            {
                updated["status"] = existing["status"]?.DeepClone();
                if (updated["status"] is null)
                {
                    updated.Remove("status");
                }
            }

            if (!JsonNode.DeepEquals(WithoutMetadataAndStatus(existing), WithoutMetadataAndStatus(updated)))
            {
                metadata["generation"] = (old["generation"] is { } generation ? long.Parse(generation.ToJsonString(), CultureInfo.InvariantCulture) : 1) + 1;
            }
        }

        updated["metadata"]!["resourceVersion"] = NextVersion();
        state.Objects[Key(ns, name)] = updated;
        Publish(state, "MODIFIED", updated);
        return (JsonObject)updated.DeepClone();
    }

    private JsonObject DeleteLocked(FakeResourceType type, string? ns, string name)
    {
        var state = _types[type];
        if (!state.Objects.Remove(Key(ns, name), out var existing))
        {
            throw NotFound(type, name);
        }

        existing["metadata"]!["resourceVersion"] = NextVersion();
        Publish(state, "DELETED", existing);
        return (JsonObject)existing.DeepClone();
    }

    private void Publish(TypeState state, string eventType, JsonObject item)
    {
        var line = Event(eventType, item);
        var version = long.Parse(item["metadata"]!["resourceVersion"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        state.History.Add((version, line, (JsonObject)item.DeepClone()));
        if (state.History.Count > HistoryLimit)
        {
            state.CompactedThrough = state.History[HistoryLimit / 2].Version;
            state.History.RemoveRange(0, HistoryLimit / 2);
        }

        foreach (var watch in state.Watches)
        {
            if (Matches(watch, item))
            {
                watch.Write(line);
            }
        }
    }

    private string NextVersion() => (++_resourceVersion).ToString(CultureInfo.InvariantCulture);

    private static bool Matches(FakeWatch watch, JsonObject item) =>
        (watch.Namespace is null || NamespaceOf(item) == watch.Namespace) && watch.Selector.Matches(item);

    private static JsonObject WithoutMetadataAndStatus(JsonObject item)
    {
        var copy = (JsonObject)item.DeepClone();
        copy.Remove("metadata");
        copy.Remove("status");
        return copy;
    }

    private static string Event(string type, JsonObject item) => new JsonObject { ["type"] = type, ["object"] = item.DeepClone() }.ToJsonString();

    private static string? NamespaceOf(JsonObject item) => item["metadata"]?["namespace"]?.GetValue<string>();

    private static string Key(string? ns, string name) => (ns ?? string.Empty) + "/" + name;

    private static FakeApiException NotFound(FakeResourceType type, string name) =>
        new(404, "NotFound", $"{type.Plural}{(type.Group.Length > 0 ? "." + type.Group : string.Empty)} \"{name}\" not found");

    private sealed class TypeState
    {
        public SortedDictionary<string, JsonObject> Objects { get; } = new(StringComparer.Ordinal);

        public List<(long Version, string Line, JsonObject Item)> History { get; } = [];

        public long CompactedThrough { get; set; }

        public List<FakeWatch> Watches { get; } = [];
    }
}
