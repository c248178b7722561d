using System.Collections.Frozen;
using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client.Balancer;
using Mesh.Client.Diagnostics;
using Mesh.Client.Resources;
using Mesh.Client.Routing;

namespace Mesh.Client.LoadBalancing;

/// <summary>
/// The routing and balancing core shared by the gRPC and HttpClient paths: for a request, the first route of the
/// virtual host that matches (path, headers, runtime fraction), then a cluster by weight (once per call), then an
/// endpoint by that cluster's policy. Immutable; rebuilt when configuration or connectivity changes.
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

    public EndpointPick Pick<THeaders>(string path, THeaders headers)
        where THeaders : IRequestHeaders
    {
        foreach (var route in _routes)
        {
            if (!route.Match.Matches(path, headers))
            {
                continue;
            }

            if (route.Action is not { } action)
            {
                return EndpointPick.Fail(NonForwardingReason);
            }

            var cluster = ChooseCluster(action);
            return _clusters.TryGetValue(cluster, out var picker)
                ? picker.Pick(headers, action)
                : EndpointPick.Fail($"cluster '{cluster}' is not available");
        }

        return EndpointPick.Fail(NoRouteReason);
    }

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

/// <summary>The gRPC adapter over <see cref="RouteTable"/>: failures become UNAVAILABLE, waits become queued picks.</summary>
internal sealed class MeshPicker(RouteTable table) : SubchannelPicker
{
    private static readonly PickResult Queue = PickResult.ForQueue();
    private static readonly ConcurrentDictionary<string, PickResult> Failures = new(StringComparer.Ordinal);

    public override PickResult Pick(PickContext context)
    {
        if (context.Request is not { RequestUri: { } uri } request)
        {
            return Failure(RouteTable.NoRouteReason);
        }

        var pick = table.Pick(uri.AbsolutePath, new HttpRequestHeaders(request));
        if (pick.Endpoint is { Subchannel: { } subchannel } endpoint)
        {
            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickComplete);
            return PickResult.ForSubchannel(subchannel, endpoint);
        }

        if (pick.IsWait)
        {
            MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickQueue);
            return Queue;
        }

        MeshClientDiagnostics.Picks.Add(1, MeshClientDiagnostics.PickFail);
        return Failure(pick.Failure!);
    }

    // Failure results are few and reused; the cache is bounded by the number of distinct reasons (capped).
    private static PickResult Failure(string reason)
    {
        if (Failures.TryGetValue(reason, out var result))
        {
            return result;
        }

        result = PickResult.ForFailure(new Status(StatusCode.Unavailable, reason));
        if (Failures.Count < 256)
        {
            Failures.TryAdd(reason, result);
        }

        return result;
    }
}
