using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.Xds;

namespace Mesh.ControlPlane.Translation;

/// <summary>One translated xDS resource, packed and with a version that changes exactly when its content does.</summary>
public sealed class XdsResource
{
    /// <summary>Wraps <paramref name="message"/> under <paramref name="name"/>.</summary>
    public XdsResource(string name, IMessage message)
    {
        Name = name;
        Message = message;
        Packed = Any.Pack(message);
        Version = Convert.ToHexStringLower(SHA256.HashData(Packed.Value.Span))[..16];
    }

    /// <summary>The resource name.</summary>
    public string Name { get; }

    /// <summary>The resource.</summary>
    public IMessage Message { get; }

    /// <summary>The resource packed in an <see cref="Any"/>, ready to send.</summary>
    public Any Packed { get; }

    /// <summary>A short hash of the content.</summary>
    public string Version { get; }
}

/// <summary>
/// Every xDS resource the control plane serves at one moment, by type URL and name, made from one
/// <see cref="Model.MeshSnapshot"/>. Listener names a client asks for may be aliases (<c>reviews:9080</c>);
/// <see cref="ResolveListener"/> maps them to the canonical resource, renamed as asked.
/// </summary>
public sealed class XdsResourceSet
{
    private readonly Func<string, string, string?> _listenerResolver;
    private readonly Func<string, ClientWorkload, IMessage?> _inboundListenerFactory;
    private readonly ConcurrentDictionary<(string Alias, string Version), XdsResource> _aliases = new();
    private readonly ConcurrentDictionary<(string Name, string Workload), XdsResource?> _inbound = new();
    private readonly ImmutableHashSet<(string TypeUrl, string Name)> _clientSpecificNames;
    private readonly Func<string, string, ClientWorkload, IMessage?> _clientSpecificFactory;
    private readonly ConcurrentDictionary<(string TypeUrl, string Name, string Workload), XdsResource> _clientSpecific = new();
    private readonly Func<string, string, ClientWorkload, bool> _visible;
    private readonly Func<XdsResource, ClientWorkload, XdsResource>? _listenerDecorator;
    private readonly ConcurrentDictionary<(string Name, string Version, string Workload), XdsResource> _decorated = new();

    /// <summary>The most per-workload server listeners (and misses) one set caches.</summary>
    private const int MaxCachedServerListeners = 4096;
    private readonly Func<XdsResourceSet, Sidecar.SidecarNode, ClientWorkload, XdsResourceSet>? _sidecarFactory;
    private readonly ConcurrentDictionary<string, XdsResourceSet> _sidecars = new(StringComparer.Ordinal);

    /// <summary>Creates a set.</summary>
    /// <param name="version">The snapshot version.</param>
    /// <param name="byType">The resources every client shares, by type URL and name.</param>
    /// <param name="listenerResolver">Maps a listener alias and a client namespace to a canonical listener name.</param>
    /// <param name="inboundListenerFactory">
    /// Makes the per-workload listener a server asks for by name (gRFC A36), or null when the name is not one.
    /// </param>
    /// <param name="clientSpecificNames">
    /// The resources (type URL, name) whose content depends on the asking client (a route configuration with
    /// <c>sourceLabels</c> or <c>sourceNamespace</c> matches); <see cref="ByType"/> holds their version for an
    /// unknown client, which leaves out every source-dependent match.
    /// </param>
    /// <param name="clientSpecificFactory">Makes one of <paramref name="clientSpecificNames"/> for a client: (type URL, name, client).</param>
    /// <param name="visibleTo">
    /// Whether a client may be sent a resource it names: (type URL, name, client). A Sidecar's egress scope leaves
    /// the other services out; <see cref="Of"/> (wildcard subscriptions) is not scoped.
    /// </param>
    /// <param name="listenerDecorator">
    /// Adds what a listener carries per workload (the Telemetry's trace sampling) to the listener a client is sent:
    /// (listener, client) → the listener to send, the same one when nothing applies.
    /// </param>
    public XdsResourceSet(
        long version,
        ImmutableDictionary<string, ImmutableDictionary<string, XdsResource>> byType,
        Func<string, string, string?> listenerResolver,
        Func<string, ClientWorkload, IMessage?>? inboundListenerFactory = null,
        ImmutableHashSet<(string TypeUrl, string Name)>? clientSpecificNames = null,
        Func<string, string, ClientWorkload, IMessage?>? clientSpecificFactory = null,
        Func<string, string, ClientWorkload, bool>? visibleTo = null,
        Func<XdsResource, ClientWorkload, XdsResource>? listenerDecorator = null)
    {
        _listenerDecorator = listenerDecorator;
        _visible = visibleTo ?? ((_, _, _) => true);
        _clientSpecificNames = clientSpecificFactory is null ? [] : clientSpecificNames ?? [];
        _clientSpecificFactory = clientSpecificFactory ?? ((_, _, _) => null);
        Version = version;
        ByType = byType;
        _listenerResolver = listenerResolver;
        _inboundListenerFactory = inboundListenerFactory ?? ((_, _) => null);
    }

    private XdsResourceSet(
        XdsResourceSet source,
        ImmutableDictionary<string, ImmutableDictionary<string, XdsResource>> byType,
        Func<XdsResourceSet, Sidecar.SidecarNode, ClientWorkload, XdsResourceSet>? sidecarFactory)
        : this(source.Version, byType, source._listenerResolver, source._inboundListenerFactory, source._clientSpecificNames, source._clientSpecificFactory, source._visible, source._listenerDecorator) =>
        _sidecarFactory = sidecarFactory;

    /// <summary>An empty set.</summary>
    public static XdsResourceSet Empty { get; } = new(0, ImmutableDictionary<string, ImmutableDictionary<string, XdsResource>>.Empty, (_, _) => null);

    /// <summary>The version of the snapshot this set was made from.</summary>
    public long Version { get; }

    /// <summary>The resources by type URL, then by canonical name.</summary>
    public ImmutableDictionary<string, ImmutableDictionary<string, XdsResource>> ByType { get; }

    /// <summary>Whether the resource <paramref name="name"/> of <paramref name="typeUrl"/> differs by asking client.</summary>
    public bool IsClientSpecific(string typeUrl, string name) => _clientSpecificNames.Contains((typeUrl, name));

    /// <summary>The resources of one type, by canonical name.</summary>
    public ImmutableDictionary<string, XdsResource> Of(string typeUrl) =>
        ByType.TryGetValue(typeUrl, out var resources) ? resources : ImmutableDictionary<string, XdsResource>.Empty;

    /// <summary>
    /// This set with the shared resources <paramref name="byType"/> instead, and with the Envoy sidecar flavour that
    /// <paramref name="sidecarFactory"/> makes from them per sidecar (see <see cref="ForClient"/>).
    /// </summary>
    public XdsResourceSet WithFlavours(
        ImmutableDictionary<string, ImmutableDictionary<string, XdsResource>> byType,
        Func<XdsResourceSet, Sidecar.SidecarNode, ClientWorkload, XdsResourceSet>? sidecarFactory) =>
        new(this, byType, sidecarFactory);

    /// <summary>
    /// The resources a client sees: for an Envoy sidecar (<see cref="Sidecar.SidecarNode"/>) its own wildcard
    /// configuration, made once per sidecar and snapshot and sharing the clusters and load assignments of this set;
    /// for every other client (proxyless) this set.
    /// </summary>
    public XdsResourceSet ForClient(Envoy.Config.Core.V3.Node? node, ClientWorkload client)
    {
        if (_sidecarFactory is null || Sidecar.SidecarNode.From(node) is not { } sidecar)
        {
            return this;
        }

        return _sidecars.GetOrAdd(sidecar.Key + "|" + client.Key, static (_, state) =>
            state.Factory(state.Set, state.Sidecar, state.Client), (Factory: _sidecarFactory, Set: this, Sidecar: sidecar, Client: client));
    }

    /// <summary>The resource of <paramref name="typeUrl"/> a client in <paramref name="clientNamespace"/> means by <paramref name="name"/>, or null.</summary>
    public XdsResource? Find(string typeUrl, string name, string clientNamespace) =>
        Find(typeUrl, name, ClientWorkload.InNamespace(clientNamespace));

    /// <summary>The resource of <paramref name="typeUrl"/> that <paramref name="client"/> means by <paramref name="name"/>, or null.</summary>
    public XdsResource? Find(string typeUrl, string name, ClientWorkload client) =>
        FindAny(typeUrl, name, client) is { } resource && _visible(typeUrl, name, client) ? Decorate(typeUrl, resource, client) : null;

    private XdsResource Decorate(string typeUrl, XdsResource resource, ClientWorkload client)
    {
        if (_listenerDecorator is null || typeUrl != XdsTypeUrls.Listener)
        {
            return resource;
        }

        // Cached per listener version and workload, up to a bound (listener names are client-supplied).
        return _decorated.Count < MaxCachedServerListeners
            ? _decorated.GetOrAdd((resource.Name, resource.Version, client.Key), static (_, state) => state.Decorator(state.Resource, state.Client),
                (Decorator: _listenerDecorator, Resource: resource, Client: client))
            : _listenerDecorator(resource, client);
    }

    private XdsResource? FindAny(string typeUrl, string name, ClientWorkload client)
    {
        if (_clientSpecificNames.Contains((typeUrl, name)))
        {
            return _clientSpecific.GetOrAdd((typeUrl, name, client.Key), static (key, state) =>
                state.Factory(key.TypeUrl, key.Name, state.Client) is { } message
                    ? new XdsResource(key.Name, message)
                    : state.Shared.Of(key.TypeUrl)[key.Name],
                (Factory: _clientSpecificFactory, Client: client, Shared: this));
        }

        var resources = Of(typeUrl);
        if (resources.TryGetValue(name, out var resource))
        {
            return resource;
        }

        if (typeUrl != XdsTypeUrls.Listener)
        {
            return null;
        }

        if (ResolveListener(name, client.Namespace) is { } alias)
        {
            return alias;
        }

        // Per-workload listeners are cached for the life of the set, up to a bound: names are client-supplied.
        return _inbound.Count < MaxCachedServerListeners
            ? _inbound.GetOrAdd((name, client.Key), static (key, state) =>
                state.Factory(key.Name, state.Client) is { } message ? new XdsResource(key.Name, message) : null,
                (Factory: _inboundListenerFactory, Client: client))
            : _inbound.TryGetValue((name, client.Key), out var cached) ? cached
            : _inboundListenerFactory(name, client) is { } built ? new XdsResource(name, built) : null;
    }

    /// <summary>The listener an alias like <c>reviews:9080</c> stands for, renamed to the alias; null when none.</summary>
    public XdsResource? ResolveListener(string alias, string clientNamespace)
    {
        if (_listenerResolver(alias, clientNamespace) is not { } canonical
            || !Of(XdsTypeUrls.Listener).TryGetValue(canonical, out var listener))
        {
            return null;
        }

        return _aliases.GetOrAdd((alias, listener.Version), static (key, source) =>
        {
            var copy = ((Envoy.Config.Listener.V3.Listener)source.Message).Clone();
            copy.Name = key.Alias;
            return new XdsResource(key.Alias, copy);
        }, listener);
    }
}
