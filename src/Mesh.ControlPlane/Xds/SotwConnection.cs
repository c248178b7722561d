using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Xds;

/// <summary>
/// A state-of-the-world ADS stream. Per type it remembers the subscription, what was sent (nonce, version, and
/// each resource's version) and what was acknowledged. Listener and cluster responses always carry every
/// subscribed resource (the client treats a missing one as deleted); route and endpoint responses carry only
/// the resources that changed, as the protocol allows.
/// </summary>
internal sealed class SotwConnection : XdsConnection
{
    private readonly IServerStreamWriter<DiscoveryResponse> _responses;
    private readonly Dictionary<string, TypeState> _types = new(StringComparer.Ordinal);

    public SotwConnection(XdsResourceCache cache, IServerStreamWriter<DiscoveryResponse> responses, TimeProvider time, ILogger logger, string peer)
        : base(cache, time, logger, peer) => _responses = responses;

    public override string Protocol => "sotw";

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

    public Task RunAsync(IAsyncStreamReader<DiscoveryRequest> requests, CancellationToken cancellationToken) =>
        RunAsync(requests.ReadAllAsync(cancellationToken), cancellationToken);

    protected override async Task HandleRequestAsync(object message)
    {
        var request = (DiscoveryRequest)message;
        LearnNode(request.Node);
        if (string.IsNullOrEmpty(request.TypeUrl))
        {
            return;
        }

        CheckNames(request.TypeUrl, request.ResourceNames, request.ResourceNames.Count);

        TypeState state;
        lock (StateLock)
        {
            if (!_types.TryGetValue(request.TypeUrl, out state!))
            {
                state = new TypeState(request.TypeUrl);
                _types.Add(request.TypeUrl, state);
            }
        }

        if (!string.IsNullOrEmpty(request.ResponseNonce))
        {
            if (request.ResponseNonce != state.Nonce)
            {
                return; // a reply to a response that was since superseded: the client will answer the newer one.
            }

            lock (StateLock)
            {
                if (request.ErrorDetail is { } error)
                {
                    state.LastNack = new XdsNack(request.ResponseNonce, request.VersionInfo, NackMessage(error.Message), Time.GetUtcNow());
                    LogNack(request.TypeUrl, request.ResponseNonce, error.Message);
                }
                else
                {
                    state.AckedVersion = request.VersionInfo;
                }
            }
        }

        // The first request for listeners or clusters with no names is a wildcard subscription.
        var current = state.Subscription;
        var wildcard = request.ResourceNames.Contains("*")
            || (request.ResourceNames.Count == 0 && ((current?.Wildcard ?? false) || (current is null && IsWildcardCapable(request.TypeUrl))));
        if (current is not null && wildcard == current.Wildcard && current.HasNames(request.ResourceNames))
        {
            return; // an ACK or NACK repeating the subscription.
        }

        var subscription = Cache.Subscriptions.Acquire(request.TypeUrl, wildcard, request.ResourceNames);
        if (current is not null && ReferenceEquals(subscription, current))
        {
            Cache.Subscriptions.Release(subscription); // the same names, repeated.
            return;
        }

        lock (StateLock)
        {
            state.Subscription = subscription;
        }

        Cache.Subscriptions.Release(current);
        await PushTypeAsync(Cache.Current.ForClient(Node, Workload), state, subscriptionChanged: true).ConfigureAwait(false);
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
                await PushTypeAsync(set, state, subscriptionChanged: false).ConfigureAwait(false);
            }
        }

        foreach (var state in _types.Values)
        {
            if (state.Subscription is not null && Array.IndexOf(PushOrder, state.TypeUrl) < 0)
            {
                await PushTypeAsync(set, state, subscriptionChanged: false).ConfigureAwait(false);
            }
        }
    }

    private async Task PushTypeAsync(XdsResourceSet set, TypeState state, bool subscriptionChanged)
    {
        var wanted = Resolve(set, state.Subscription!);
        var sent = state.Sent;
        if (!subscriptionChanged && wanted.Fingerprint == sent.Fingerprint)
        {
            return; // nothing this client holds or wants changed: one comparison, nothing allocated.
        }

        XdsResource[] toSend;
        if (IsWildcardCapable(state.TypeUrl))
        {
            // Full state: send when anything was added, changed or removed, or the subscription changed.
            toSend = wanted.Resources;
        }
        else
        {
            // Routes and endpoints: only what the client does not hold at this version.
            var changed = new List<XdsResource>();
            foreach (var resource in wanted.Resources)
            {
                if (sent.VersionOf(resource.Name) != resource.Version)
                {
                    changed.Add(resource);
                }
            }

            if (changed.Count == 0)
            {
                lock (StateLock)
                {
                    state.Sent = wanted; // the client holds all of it (what it no longer subscribes to is forgotten).
                }

                return;
            }

            toSend = [.. changed];
        }

        var response = new DiscoveryResponse
        {
            TypeUrl = state.TypeUrl,
            VersionInfo = set.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Nonce = NextNonce(),
            ControlPlane = ControlPlaneIdentity,
        };
        foreach (var resource in toSend)
        {
            response.Resources.Add(resource.Packed);
        }

        lock (StateLock)
        {
            state.Sent = wanted;
            state.Nonce = response.Nonce;
            state.SentVersion = response.VersionInfo;
        }

        await SendAsync(_responses.WriteAsync(response), response).ConfigureAwait(false);
    }

    private static bool IsWildcardCapable(string typeUrl) => typeUrl is XdsTypeUrls.Listener or XdsTypeUrls.Cluster;

    /// <summary>
    /// One type's state: the shared subscription, and what the client holds (the resolved resources last sent, shared
    /// with every stream that was sent the same), so a stream keeps no copy of names or versions of its own.
    /// </summary>
    private sealed class TypeState(string typeUrl)
    {
        public string TypeUrl { get; } = typeUrl;
        public XdsSubscription? Subscription { get; set; }
        public XdsResolved Sent { get; set; } = XdsResolved.Empty;
        public string? Nonce { get; set; }
        public string? SentVersion { get; set; }
        public string? AckedVersion { get; set; }
        public XdsNack? LastNack { get; set; }

        public XdsTypeStatus ToStatus() => new(
            TypeUrl, SentVersion, Nonce, AckedVersion, LastNack,
            Subscription is null ? [] : Subscription.Wildcard ? ["*", .. Subscription.Names] : [.. Subscription.Names],
            Sent.ToDictionary());
    }
}
