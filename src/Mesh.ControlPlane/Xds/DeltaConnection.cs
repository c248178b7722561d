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

            CheckNames(request.TypeUrl, request.ResourceNamesSubscribe, state.Names.Count + request.ResourceNamesSubscribe.Count);

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

            if (!state.Started)
            {
                state.Started = true;
                foreach (var (name, held) in request.InitialResourceVersions)
                {
                    state.Held[name] = held;
                }

                // Legacy wildcard: a first listener or cluster request that names nothing.
                if (request.ResourceNamesSubscribe.Count == 0 && request.TypeUrl is XdsTypeUrls.Listener or XdsTypeUrls.Cluster)
                {
                    state.Wildcard = true;
                }
            }

            foreach (var name in request.ResourceNamesSubscribe)
            {
                if (name == "*")
                {
                    state.Wildcard = true;
                }
                else
                {
                    state.Names.Add(name);
                }
            }

            foreach (var name in request.ResourceNamesUnsubscribe)
            {
                if (name == "*")
                {
                    state.Wildcard = false;
                }
                else
                {
                    state.Names.Remove(name);
                }

                state.Held.Remove(name);
            }

            if (request.TypeUrl == XdsTypeUrls.Listener && request.ResourceNamesSubscribe.Count > 0)
            {
                CheckNames(request.TypeUrl, state.Names, state.Names.Count); // server listeners add up over requests.
            }

            if (!state.Wildcard)
            {
                foreach (var held in state.Held.Keys.ToList())
                {
                    if (!state.Names.Contains(held))
                    {
                        state.Held.Remove(held);
                    }
                }
            }
        }

        await PushTypeAsync(Cache.Current.ForClient(Node, Workload), state).ConfigureAwait(false);
    }

    protected override async Task PushChangesAsync(XdsResourceSet set)
    {
        foreach (var typeUrl in PushOrder)
        {
            if (_types.TryGetValue(typeUrl, out var state) && state.Started)
            {
                await PushTypeAsync(set, state).ConfigureAwait(false);
            }
        }

    }

    private async Task PushTypeAsync(XdsResourceSet set, TypeState state)
    {
        var response = new DeltaDiscoveryResponse
        {
            TypeUrl = state.TypeUrl,
            SystemVersionInfo = set.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ControlPlane = new Envoy.Config.Core.V3.ControlPlane { Identifier = "mesh-controlplane" },
        };
        var present = new HashSet<string>(StringComparer.Ordinal);
        lock (StateLock)
        {
            if (state.Wildcard)
            {
                foreach (var resource in set.Of(state.TypeUrl).Values.OrderBy(r => r.Name, StringComparer.Ordinal))
                {
                    present.Add(resource.Name);
                    AddIfChanged(response, state, resource, resource.Name);
                }
            }

            foreach (var name in state.Names.Order(StringComparer.Ordinal))
            {
                if (!present.Contains(name) && Find(set, state.TypeUrl, name) is { } resource)
                {
                    present.Add(name);
                    AddIfChanged(response, state, resource, name);
                }
            }

            foreach (var held in state.Held.Keys.Order(StringComparer.Ordinal).ToList())
            {
                if (!present.Contains(held))
                {
                    response.RemovedResources.Add(held);
                    state.Held.Remove(held);
                }
            }

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

        await SendAsync(_responses.WriteAsync(response)).ConfigureAwait(false);
    }

    private static void AddIfChanged(DeltaDiscoveryResponse response, TypeState state, XdsResource resource, string name)
    {
        if (state.Held.TryGetValue(name, out var held) && held == resource.Version)
        {
            return;
        }

        response.Resources.Add(new Resource { Name = name, Version = resource.Version, Resource_ = resource.Packed });
        state.Held[name] = resource.Version;
    }

    private sealed class TypeState(string typeUrl)
    {
        public string TypeUrl { get; } = typeUrl;
        public bool Started { get; set; }
        public bool Wildcard { get; set; }
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, string> Held { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, string> PendingVersions { get; } = new(StringComparer.Ordinal);
        public string? Nonce { get; set; }
        public string? SentVersion { get; set; }
        public string? AckedVersion { get; set; }
        public XdsNack? LastNack { get; set; }

        public XdsTypeStatus ToStatus() => new(
            TypeUrl, SentVersion, Nonce, AckedVersion, LastNack,
            Wildcard ? ["*", .. Names.Order(StringComparer.Ordinal)] : [.. Names.Order(StringComparer.Ordinal)],
            new Dictionary<string, string>(Held, StringComparer.Ordinal));
    }
}
