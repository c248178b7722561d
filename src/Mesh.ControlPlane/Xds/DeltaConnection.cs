using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Xds;

/// <summary>
/// An incremental (delta) ADS stream. Per type it remembers the subscription and, for each resource, the version
/// the client holds (from <c>initial_resource_versions</c> on reconnect, then from what was sent). A push sends
/// exactly the resources whose version differs, and names in <c>removed_resources</c> what the client holds but
/// no longer exists.
/// </summary>
internal sealed class DeltaConnection : XdsConnection
{
    private readonly IServerStreamWriter<DeltaDiscoveryResponse> _responses;
    private readonly Dictionary<string, TypeState> _types = new(StringComparer.Ordinal);

    public DeltaConnection(XdsResourceCache cache, IServerStreamWriter<DeltaDiscoveryResponse> responses, TimeProvider time, ILogger logger, string peer)
        : base(cache, time, logger, peer) => _responses = responses;

    public override string Protocol => "delta";

    public override IReadOnlyList<XdsTypeStatus> Status
    {
        get
        {
            lock (StateLock)
            {
                return [.. _types.Values.Select(t => t.ToStatus())];
            }
        }
    }

    public Task RunAsync(IAsyncStreamReader<DeltaDiscoveryRequest> requests, CancellationToken cancellationToken) =>
        RunAsync(requests.ReadAllAsync(cancellationToken), cancellationToken);

    protected override async Task HandleRequestAsync(object message)
    {
        var request = (DeltaDiscoveryRequest)message;
        LearnNode(request.Node);
        if (string.IsNullOrEmpty(request.TypeUrl))
        {
            return;
        }

        CheckNames(request.TypeUrl, request.InitialResourceVersions.Keys, request.InitialResourceVersions.Count);

        TypeState state;
        lock (StateLock)
        {
            if (!_types.TryGetValue(request.TypeUrl, out state!))
            {
                state = new TypeState(request.TypeUrl);
                _types.Add(request.TypeUrl, state);
            }

            var subscribed = state.Subscription?.Names.Length ?? 0;
            CheckNames(request.TypeUrl, request.ResourceNamesSubscribe, subscribed + request.ResourceNamesSubscribe.Count);

            if (!string.IsNullOrEmpty(request.ResponseNonce) && state.PendingVersions.Remove(request.ResponseNonce, out var version))
            {
                if (request.ErrorDetail is { } error)
                {
                    state.LastNack = new XdsNack(request.ResponseNonce, state.AckedVersion ?? string.Empty, NackMessage(error.Message), Time.GetUtcNow());
                    LogNack(request.TypeUrl, request.ResponseNonce, error.Message);
                }
                else
                {
                    state.AckedVersion = version;
                }
            }
        }

        var changed = state.Subscription is null || request.ResourceNamesSubscribe.Count > 0 || request.ResourceNamesUnsubscribe.Count > 0
            || request.InitialResourceVersions.Count > 0;
        if (changed)
        {
            var wildcard = state.Subscription?.Wildcard ?? false;
            var names = new HashSet<string>(state.Subscription?.Names ?? [], StringComparer.Ordinal);
            lock (StateLock)
            {
                state.InSync = null;
                if (state.Subscription is null)
                {
                    foreach (var (name, held) in request.InitialResourceVersions)
                    {
                        state.Held[name] = held;
                    }

                    // Legacy wildcard: a first listener or cluster request that names nothing.
                    if (request.ResourceNamesSubscribe.Count == 0 && request.TypeUrl is XdsTypeUrls.Listener or XdsTypeUrls.Cluster)
                    {
                        wildcard = true;
                    }
                }

                foreach (var name in request.ResourceNamesSubscribe)
                {
                    if (name == "*")
                    {
                        wildcard = true;
                    }
                    else
                    {
                        names.Add(name);
                    }
                }

                foreach (var name in request.ResourceNamesUnsubscribe)
                {
                    if (name == "*")
                    {
                        wildcard = false;
                    }
                    else
                    {
                        names.Remove(name);
                    }

                    state.Held.Remove(name);
                }

                if (request.TypeUrl == XdsTypeUrls.Listener && request.ResourceNamesSubscribe.Count > 0)
                {
                    CheckNames(request.TypeUrl, names, names.Count); // server listeners add up over requests.
                }

                if (!wildcard)
                {
                    foreach (var held in state.Held.Keys.ToList())
                    {
                        if (!names.Contains(held))
                        {
                            state.Held.Remove(held);
                        }
                    }
                }

                var previous = state.Subscription;
                state.Subscription = Cache.Subscriptions.Acquire(request.TypeUrl, wildcard, names);
                Cache.Subscriptions.Release(previous);
            }
        }

        await PushTypeAsync(Cache.Current.ForClient(Node, Workload), state).ConfigureAwait(false);
    }

    private protected override void OnEnded()
    {
        lock (StateLock)
        {
            foreach (var state in _types.Values)
            {
                Cache.Subscriptions.Release(state.Subscription);
                state.Subscription = null;
            }
        }
    }

    protected override async Task PushChangesAsync(XdsResourceSet set)
    {
        foreach (var typeUrl in PushOrder)
        {
            if (_types.TryGetValue(typeUrl, out var state) && state.Subscription is not null)
            {
                await PushTypeAsync(set, state).ConfigureAwait(false);
            }
        }
    }

    private async Task PushTypeAsync(XdsResourceSet set, TypeState state)
    {
        var wanted = Resolve(set, state.Subscription!);
        if (state.InSync is { } inSync && inSync.Fingerprint == wanted.Fingerprint)
        {
            return; // the client holds exactly what it wants: one comparison, nothing allocated.
        }

        var response = new DeltaDiscoveryResponse
        {
            TypeUrl = state.TypeUrl,
            SystemVersionInfo = set.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ControlPlane = ControlPlaneIdentity,
        };
        lock (StateLock)
        {
            foreach (var resource in wanted.Resources)
            {
                AddIfChanged(response, state, resource);
            }

            List<string>? removed = null;
            foreach (var held in state.Held.Keys)
            {
                if (wanted.VersionOf(held) is null)
                {
                    (removed ??= []).Add(held);
                }
            }

            if (removed is not null)
            {
                removed.Sort(StringComparer.Ordinal);
                foreach (var held in removed)
                {
                    response.RemovedResources.Add(held);
                    state.Held.Remove(held);
                }
            }

            state.InSync = wanted; // what the client holds is now exactly what it wants.
            if (response.Resources.Count == 0 && response.RemovedResources.Count == 0)
            {
                return;
            }

            response.Nonce = NextNonce();
            if (state.PendingVersions.Count > 32)
            {
                state.PendingVersions.Clear(); // only the newest nonces can still be answered.
            }

            state.PendingVersions[response.Nonce] = response.SystemVersionInfo;
            state.SentVersion = response.SystemVersionInfo;
            state.Nonce = response.Nonce;
        }

        await SendAsync(_responses.WriteAsync(response), response).ConfigureAwait(false);
    }

    private static void AddIfChanged(DeltaDiscoveryResponse response, TypeState state, XdsResource resource)
    {
        if (state.Held.TryGetValue(resource.Name, out var held) && held == resource.Version)
        {
            return;
        }

        response.Resources.Add(new Resource { Name = resource.Name, Version = resource.Version, Resource_ = resource.Packed });
        state.Held[resource.Name] = resource.Version;
    }

    private sealed class TypeState(string typeUrl)
    {
        public string TypeUrl { get; } = typeUrl;
        public XdsSubscription? Subscription { get; set; }
        public Dictionary<string, string> Held { get; } = new(StringComparer.Ordinal);

        /// <summary>The resolved resources <see cref="Held"/> equals, or null when a request changed either since.</summary>
        public XdsResolved? InSync { get; set; }
        public Dictionary<string, string> PendingVersions { get; } = new(StringComparer.Ordinal);
        public string? Nonce { get; set; }
        public string? SentVersion { get; set; }
        public string? AckedVersion { get; set; }
        public XdsNack? LastNack { get; set; }

        public XdsTypeStatus ToStatus() => new(
            TypeUrl, SentVersion, Nonce, AckedVersion, LastNack,
            Subscription is null ? [] : Subscription.Wildcard ? ["*", .. Subscription.Names] : [.. Subscription.Names],
            new Dictionary<string, string>(Held, StringComparer.Ordinal));
    }
}
