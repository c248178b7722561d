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
        var wildcard = request.ResourceNames.Contains("*")
            || (request.ResourceNames.Count == 0 && (state.Wildcard || (!state.Started && IsWildcardCapable(request.TypeUrl))));
        var names = new HashSet<string>(request.ResourceNames, StringComparer.Ordinal);
        names.Remove("*");
        var changed = !state.Started || wildcard != state.Wildcard || !names.SetEquals(state.Names);
        if (!changed)
        {
            return;
        }

        lock (StateLock)
        {
            state.Started = true;
            state.Wildcard = wildcard;
            state.Names = names;
            foreach (var sent in state.Sent.Keys.ToList())
            {
                if (!wildcard && !names.Contains(sent))
                {
                    state.Sent.Remove(sent);
                }
            }
        }

        await PushTypeAsync(Cache.Current.ForClient(Node, Workload), state, subscriptionChanged: true).ConfigureAwait(false);
    }

    protected override async Task PushChangesAsync(XdsResourceSet set)
    {
        foreach (var typeUrl in PushOrder)
        {
            if (_types.TryGetValue(typeUrl, out var state) && state.Started)
            {
                await PushTypeAsync(set, state, subscriptionChanged: false).ConfigureAwait(false);
            }
        }

        foreach (var state in _types.Values)
        {
            if (state.Started && Array.IndexOf(PushOrder, state.TypeUrl) < 0)
            {
                await PushTypeAsync(set, state, subscriptionChanged: false).ConfigureAwait(false);
            }
        }

    }

    private async Task PushTypeAsync(XdsResourceSet set, TypeState state, bool subscriptionChanged)
    {
        var wanted = new List<XdsResource>();
        if (state.Wildcard)
        {
            wanted.AddRange(set.Of(state.TypeUrl).Values.OrderBy(r => r.Name, StringComparer.Ordinal));
        }

        foreach (var name in state.Names.Order(StringComparer.Ordinal))
        {
            if (Find(set, state.TypeUrl, name) is { } resource && !(state.Wildcard && set.Of(state.TypeUrl).ContainsKey(name)))
            {
                wanted.Add(resource);
            }
        }

        List<XdsResource> toSend;
        if (IsWildcardCapable(state.TypeUrl))
        {
            // Full state: send when anything was added, changed or removed, or the subscription changed.
            var same = !subscriptionChanged && wanted.Count == state.Sent.Count
                && wanted.TrueForAll(r => state.Sent.TryGetValue(r.Name, out var v) && v == r.Version);
            if (same)
            {
                return;
            }

            toSend = wanted;
        }
        else
        {
            toSend = wanted.FindAll(r => !state.Sent.TryGetValue(r.Name, out var v) || v != r.Version);
            if (toSend.Count == 0)
            {
                return;
            }
        }

        var response = new DiscoveryResponse
        {
            TypeUrl = state.TypeUrl,
            VersionInfo = set.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Nonce = NextNonce(),
            ControlPlane = new Envoy.Config.Core.V3.ControlPlane { Identifier = "mesh-controlplane" },
        };
        foreach (var resource in toSend)
        {
            response.Resources.Add(resource.Packed);
        }

        lock (StateLock)
        {
            if (IsWildcardCapable(state.TypeUrl))
            {
                state.Sent.Clear();
            }

            foreach (var resource in toSend)
            {
                state.Sent[resource.Name] = resource.Version;
            }

            state.Nonce = response.Nonce;
            state.SentVersion = response.VersionInfo;
        }

        await SendAsync(_responses.WriteAsync(response)).ConfigureAwait(false);
    }

    private static bool IsWildcardCapable(string typeUrl) => typeUrl is XdsTypeUrls.Listener or XdsTypeUrls.Cluster;

    private sealed class TypeState(string typeUrl)
    {
        public string TypeUrl { get; } = typeUrl;
        public bool Started { get; set; }
        public bool Wildcard { get; set; }
        public HashSet<string> Names { get; set; } = new(StringComparer.Ordinal);
        public Dictionary<string, string> Sent { get; } = new(StringComparer.Ordinal);
        public string? Nonce { get; set; }
        public string? SentVersion { get; set; }
        public string? AckedVersion { get; set; }
        public XdsNack? LastNack { get; set; }

        public XdsTypeStatus ToStatus() => new(
            TypeUrl, SentVersion, Nonce, AckedVersion, LastNack,
            Wildcard ? ["*", .. Names.Order(StringComparer.Ordinal)] : [.. Names.Order(StringComparer.Ordinal)],
            new Dictionary<string, string>(Sent, StringComparer.Ordinal));
    }
}
