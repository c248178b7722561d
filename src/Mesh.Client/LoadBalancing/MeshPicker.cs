using System.Collections.Concurrent;
using System.Collections.Frozen;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Mesh.Client.Diagnostics;
using Mesh.Client.Policies;
using Mesh.Client.Resources;
using Mesh.Client.Routing;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// The routing and balancing core shared by the gRPC and HttpClient paths: for a request, the first route of the
/// virtual host that matches (path, headers, runtime fraction), then a cluster by weight (once per call), then an
/// endpoint by that cluster's policy, then a slot under the cluster's circuit breaker. Immutable; rebuilt when
/// configuration or connectivity changes.
/// </summary>
internal sealed class RouteTable
{
    public const string NoRouteReason = "no matching route";
    public const string NonForwardingReason = "the matching route does not forward";

    private readonly RouteResource[] _routes;
    private readonly FrozenDictionary<string, ClusterPicker> _clusters;

    public RouteTable(RouteResource[] routes, FrozenDictionary<string, ClusterPicker> clusters)
    {
        _routes = routes;
        _clusters = clusters;
    }

    public IReadOnlyList<RouteResource> Routes => _routes;

    /// <summary>The index of the first route matching the request, or -1.</summary>
    public int Match<THeaders>(string path, THeaders headers)
        where THeaders : IRequestHeaders
    {
        for (var i = 0; i < _routes.Length; i++)
        {
            if (_routes[i].Match.Matches(path, headers))
            {
                return i;
            }
        }

        return -1;
    }

    public EndpointPick Pick<THeaders>(string path, THeaders headers)
        where THeaders : IRequestHeaders
    {
        var index = Match(path, headers);
        if (index < 0)
        {
            return EndpointPick.Fail(NoRouteReason);
        }

        if (_routes[index].Action is not { } action)
        {
            return EndpointPick.Fail(NonForwardingReason);
        }

        return PickInCluster(ChooseCluster(action), action, headers);
    }

    /// <summary>Picks an endpoint of <paramref name="cluster"/> and reserves a slot under its circuit breaker.</summary>
    public EndpointPick PickInCluster<THeaders>(string cluster, RouteActionResource action, THeaders headers)
        where THeaders : IRequestHeaders
    {
        if (!_clusters.TryGetValue(cluster, out var picker))
        {
            return EndpointPick.Fail($"cluster '{cluster}' is not available");
        }

        var pick = picker.Pick(headers, action);
        if (pick.Member is { } member && !member.Counter.TryAcquire())
        {
            member.Load?.Cluster.RecordDrop(); // A27: a circuit-breaker drop is reported as dropped
            return EndpointPick.Drop($"circuit breaker: cluster '{cluster}' has {member.Counter.MaxRequests} requests in flight");
        }

        return pick;
    }

    public bool HasCluster(string cluster) => _clusters.ContainsKey(cluster);

    /// <summary>Chooses one cluster of the route by weight.</summary>
    internal static string ChooseCluster(RouteActionResource action)
    {
        var clusters = action.Clusters;
        if (clusters.Length == 1)
        {
            return clusters[0].Name;
        }

        var ticket = (ulong)Random.Shared.NextInt64((long)action.TotalWeight);
        foreach (var cluster in clusters)
        {
            if (ticket < cluster.Weight)
            {
                return cluster.Name;
            }

            ticket -= cluster.Weight;
        }

        return clusters[^1].Name;
    }

}

/// <summary>
/// The gRPC adapter over <see cref="RouteTable"/>: matches the route, chooses the cluster by weight and picks an endpoint;
/// failures become UNAVAILABLE, the circuit breaker a drop (never retried), waits queued picks. When the route has
/// policies (or the cluster outlier detection), they and the chosen endpoint ride on the request to the channel's
/// <see cref="MeshCallHandler"/>.
/// </summary>
internal sealed class MeshPicker(RouteTable table, RoutePolicy[] policies, ChannelPickers? channel = null) : SubchannelPicker
{
    private static readonly PickResult Queue = PickResult.ForQueue();
    private static readonly ConcurrentDictionary<string, PickResult> Failures = new(StringComparer.Ordinal);

    /// <summary>The routes and cluster pickers behind this picker.</summary>
    public RouteTable Table => table;

    public override PickResult Pick(PickContext context)
    {
        if (context.Request is not { RequestUri: { } uri } request)
        {
            return Failure(RouteTable.NoRouteReason, drop: false);
        }

        var headers = new HttpRequestHeaders(request);
        var index = table.Match(uri.AbsolutePath, headers);
        if (index < 0)
        {
            channel?.RecordPickFailure(request, Telemetry.ResponseFlags.NoRoute);
            return Failure(RouteTable.NoRouteReason, drop: false);
        }

        if (table.Routes[index].Action is not { } action)
        {
            return Failure(RouteTable.NonForwardingReason, drop: false);
        }

        var cluster = RouteTable.ChooseCluster(action);
        var pick = table.PickInCluster(cluster, action, headers);
        if (pick.Member is { Endpoint.Subchannel: { } subchannel } member)
        {
            if (member.Tls is { } tls)
            {
                if (tls.Error is not null)
                {
                    member.Finish();
                    return Failure(tls.Error, drop: false);
                }

                request.Options.Set(Transport.MeshConnector.TlsOption, tls);
            }

            LoadReporting.LoadReportingHandler.Track(request, member.Load);
            if (subchannel.CurrentAddress is { } address)
            {
                EndpointRequestUri.Apply(request, uri, address.EndPoint); // the balancer then keeps it: no URI built per call
            }

            var policy = (uint)index < (uint)policies.Length ? policies[index].ForCluster(cluster) : RoutePolicy.None;
            if (!policy.IsEmpty)
            {
                request.Options.Set(MeshCallHandler.PolicyKey, policy);
                request.Options.Set(MeshCallHandler.MemberKey, member);
            }
            else if (member.ReportsOutcome)
            {
                request.Options.Set(MeshCallHandler.MemberKey, member);
            }
            else if (channel?.Telemetry is { Observing: true } telemetry)
            {
                // A call of one attempt: measured as a call by the telemetry handler alone, nothing above it wraps it.
                request.Options.Set(MeshCallHandler.CallKey, new Telemetry.ClientCallTelemetry(telemetry, channel.Target, Telemetry.IstioLabels.Grpc)
                {
                    Method = uri.AbsolutePath,
                    Target = channel.GrpcTarget,
                    Cluster = member.Cluster,
                    SingleAttempt = true,
                });
            }

            // With policies the call handler tracks the attempts itself, so a retry never waits behind the first
            // attempt's circuit-breaker slot.
            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickComplete);
            return PickResult.ForSubchannel(subchannel, policy.IsEmpty ? member : null);
        }

        if (pick.IsWait)
        {
            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickQueue);
            return Queue;
        }

        MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickFail);
        channel?.RecordPickFailure(request, Telemetry.ResponseFlagsText.ForPickFailure(pick.IsDrop, pick.Failure));
        return Failure(pick.Failure!, pick.IsDrop);
    }

    // Failure results are few and reused; the cache is bounded (distinct reasons, capped).
    private static PickResult Failure(string reason, bool drop)
    {
        var key = drop ? "drop:" + reason : reason;
        if (Failures.TryGetValue(key, out var result))
        {
            return result;
        }

        var status = new Status(StatusCode.Unavailable, reason);
        result = drop ? PickResult.ForDrop(status) : PickResult.ForFailure(status);
        if (Failures.Count < 256)
        {
            Failures.TryAdd(key, result);
        }

        return result;
    }
}
