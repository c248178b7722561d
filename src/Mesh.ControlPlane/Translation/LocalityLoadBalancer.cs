using System.Collections.Immutable;
using Envoy.Config.Endpoint.V3;
using Mesh.ControlPlane.Model;
using Mesh.Xds;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// Locality load balancing (DestinationRule <c>localityLbSetting</c>) as istiod applies it to each proxy's load
/// assignments: the same endpoints, with priorities or locality weights relative to the asking client.
/// <list type="bullet">
/// <item><c>distribute</c>: the first rule whose <c>from</c> matches the client's locality gives each locality its
/// share of the rule's <c>to</c> weights (split by the localities' own weights when a pattern matches several);
/// localities no <c>to</c> pattern matches receive nothing. Needs no outlier detection.</item>
/// <item>failover (the default whenever the policy has outlier detection, as istiod's mesh-wide default is on):
/// priority 0 for the client's region/zone/sub-zone, 1 for its region and zone, 2 for its region, 3 for the rest;
/// with a <c>failover</c> entry whose <c>from</c> is the client's region, other regions than its <c>to</c> fall to 4.
/// <c>failoverPriority</c> labels first split each locality by how many of the listed labels (in order) the endpoint
/// shares with the client (a <c>label=value</c> entry compares with that value instead); the locality order is then
/// applied within each such group only when <c>failover</c> is also set. Priorities are renumbered 0…N without
/// gaps.</item>
/// <item><c>enabled: false</c> turns all of it off. Without outlier detection failover is not applied, as in
/// Istio: a client would never know a locality had failed.</item>
/// </list>
/// Clients (and endpoints) carry their locality's <c>topology.kubernetes.io/region</c>, <c>zone</c> and
/// <c>topology.istio.io/subzone</c> as labels for <c>failoverPriority</c>, as Istio adds them. A client whose node
/// states no locality gets the shared assignment.
/// </summary>
internal static class LocalityLoadBalancer
{
    private const string RegionLabel = "topology.kubernetes.io/region";
    private const string ZoneLabel = "topology.kubernetes.io/zone";
    private const string SubZoneLabel = "topology.istio.io/subzone";

    /// <summary>
    /// Whether the load assignment of a cluster with policy <paramref name="traffic"/> differs by client locality: a
    /// <c>distribute</c> setting, or failover (outlier detection present) over endpoints in more than one locality or
    /// with <c>failoverPriority</c> labels.
    /// </summary>
    public static bool Applies(TrafficPolicy traffic, ClusterLoadAssignment assignment)
    {
        var setting = traffic.Locality;
        if (setting is { Enabled: false } || assignment.Endpoints.Count == 0)
        {
            return false;
        }

        if (setting is { Distribute.IsEmpty: false })
        {
            return true;
        }

        if (traffic.Outlier is null)
        {
            return false;
        }

        return setting is { FailoverPriority.IsEmpty: false } || assignment.Endpoints.Count > 1;
    }

    /// <summary>
    /// The load assignment of the cluster <paramref name="clusterName"/> as <paramref name="client"/> is to see it,
    /// made from the shared <paramref name="shared"/>; null when it is the shared one (no locality setting applies,
    /// or the client's node names no locality).
    /// </summary>
    public static ClusterLoadAssignment? ForClient(MeshSnapshot snapshot, string clusterName, ClusterLoadAssignment shared, ClientWorkload client)
    {
        if (client.Locality == Locality.None
            || !XdsResourceNames.TryParseClusterName(clusterName, out var port, out var subsetName, out var host)
            || !snapshot.Services.TryGetValue(host, out var service))
        {
            return null;
        }

        snapshot.Policies.TryGetValue(host, out var policy);
        var traffic = subsetName.Length == 0
            ? (policy?.Traffic ?? TrafficPolicy.Default).ForPort(port)
            : policy?.FindSubset(subsetName)?.Traffic.ForPort(port);
        if (traffic is null || !Applies(traffic, shared))
        {
            return null;
        }

        return Apply(shared, traffic, client, address => EndpointLabels(service, port, address));
    }

    /// <summary>
    /// Applies <paramref name="traffic"/>'s locality setting to a copy of <paramref name="shared"/> for
    /// <paramref name="client"/>; <paramref name="labelsOf"/> gives an endpoint's labels (for <c>failoverPriority</c>).
    /// </summary>
    public static ClusterLoadAssignment Apply(ClusterLoadAssignment shared, TrafficPolicy traffic, ClientWorkload client, Func<LbEndpoint, ImmutableDictionary<string, string>> labelsOf)
    {
        var setting = traffic.Locality ?? new LocalityLoadBalancing();
        var assignment = shared.Clone();
        if (!setting.Distribute.IsEmpty)
        {
            ApplyWeights(assignment, client.Locality, setting.Distribute);
            return assignment;
        }

        if (!setting.FailoverPriority.IsEmpty)
        {
            ApplyFailoverPriority(assignment, ClientLabels(client), setting.FailoverPriority, labelsOf);
            if (!setting.Failover.IsEmpty)
            {
                ApplyFailover(assignment, client.Locality, setting.Failover);
            }
        }
        else
        {
            ApplyFailover(assignment, client.Locality, setting.Failover);
        }

        return assignment;
    }

    /// <summary>How close an endpoint's locality is to the client's: 0 same sub-zone … 3 another region.</summary>
    public static int Proximity(Locality client, Envoy.Config.Core.V3.Locality? endpoint)
    {
        if (client.Region != (endpoint?.Region ?? string.Empty))
        {
            return 3;
        }

        if (client.Zone != (endpoint?.Zone ?? string.Empty))
        {
            return 2;
        }

        return client.SubZone != (endpoint?.SubZone ?? string.Empty) ? 1 : 0;
    }

    /// <summary>Whether a locality matches a <c>region/zone/subzone</c> pattern where <c>*</c> (or a missing part) matches anything.</summary>
    public static bool Matches(Locality locality, string pattern)
    {
        var parts = pattern.Split('/');
        var region = parts[0];
        var zone = parts.Length > 1 ? parts[1] : string.Empty;
        var subZone = parts.Length > 2 ? parts[2] : string.Empty;
        return (region == "*" || region == locality.Region)
            && (zone is "*" or "" || zone == locality.Zone)
            && (subZone is "*" or "" || subZone == locality.SubZone);
    }

    private static void ApplyWeights(ClusterLoadAssignment assignment, Locality client, ImmutableArray<KeyValuePair<string, ImmutableArray<KeyValuePair<string, uint>>>> distribute)
    {
        foreach (var (from, to) in distribute)
        {
            if (!Matches(client, from))
            {
                continue;
            }

            var unmatched = new HashSet<int>(Enumerable.Range(0, assignment.Endpoints.Count));
            foreach (var (pattern, share) in to)
            {
                // Every still unclaimed locality this pattern matches shares the pattern's weight by its own weight.
                var matched = new List<(int Index, ulong Weight)>();
                ulong total = 0;
                for (var i = 0; i < assignment.Endpoints.Count; i++)
                {
                    var group = assignment.Endpoints[i];
                    if (unmatched.Contains(i) && Matches(ToModel(group.Locality), pattern))
                    {
                        unmatched.Remove(i);
                        var own = group.LoadBalancingWeight ?? 1;
                        matched.Add((i, own));
                        total += own;
                    }
                }

                foreach (var (index, own) in matched)
                {
                    // A share of 0 sends nothing there (Istio would leave such a locality its own weight).
                    assignment.Endpoints[index].LoadBalancingWeight = (uint)Math.Min(uint.MaxValue, Math.Ceiling((double)own * share / total));
                }
            }

            // Localities no destination pattern names receive no traffic.
            for (var i = assignment.Endpoints.Count - 1; i >= 0; i--)
            {
                if (unmatched.Contains(i) || assignment.Endpoints[i].LoadBalancingWeight is null or 0)
                {
                    assignment.Endpoints.RemoveAt(i);
                }
            }

            return;
        }
    }

    private static void ApplyFailover(ClusterLoadAssignment assignment, Locality client, ImmutableArray<KeyValuePair<string, string>> failover)
    {
        var priorities = new int[assignment.Endpoints.Count];
        for (var i = 0; i < assignment.Endpoints.Count; i++)
        {
            var group = assignment.Endpoints[i];
            var proximity = Proximity(client, group.Locality);
            if (proximity == 3)
            {
                foreach (var (from, to) in failover)
                {
                    if (from == client.Region)
                    {
                        if (group.Locality?.Region != to)
                        {
                            proximity = 4;
                        }

                        break;
                    }
                }
            }

            // Up to five locality priorities within each priority already given (by failoverPriority).
            priorities[i] = ((int)group.Priority * 5) + proximity;
        }

        Renumber(assignment, priorities);
    }

    private static void ApplyFailoverPriority(
        ClusterLoadAssignment assignment,
        ImmutableDictionary<string, string> client,
        ImmutableArray<string> failoverPriority,
        Func<LbEndpoint, ImmutableDictionary<string, string>> labelsOf)
    {
        if (client.IsEmpty)
        {
            return;
        }

        var names = new string[failoverPriority.Length];
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            var entry = failoverPriority[i];
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            names[i] = equals < 0 ? entry : entry[..equals];
            if (equals >= 0)
            {
                overrides[names[i]] = entry[(equals + 1)..];
            }
        }

        var groups = new List<LocalityLbEndpoints>();
        foreach (var group in assignment.Endpoints)
        {
            // Per locality: endpoints split by how many leading labels they share with the client.
            var byPriority = new SortedDictionary<int, List<LbEndpoint>>();
            foreach (var endpoint in group.LbEndpoints)
            {
                var labels = labelsOf(endpoint);
                var priority = 0;
                for (var j = 0; j < names.Length; j++)
                {
                    var wanted = overrides.TryGetValue(names[j], out var value) ? value : client.GetValueOrDefault(names[j]);
                    if (wanted != labels.GetValueOrDefault(names[j]))
                    {
                        priority = names.Length - j;
                        break;
                    }
                }

                if (!byPriority.TryGetValue(priority, out var list))
                {
                    list = [];
                    byPriority.Add(priority, list);
                }

                list.Add(endpoint);
            }

            foreach (var (priority, endpoints) in byPriority)
            {
                var split = group.Clone();
                split.LbEndpoints.Clear();
                split.LbEndpoints.AddRange(endpoints);
                split.Priority = (uint)priority;
                uint weight = 0;
                foreach (var endpoint in endpoints)
                {
                    weight += endpoint.LoadBalancingWeight ?? 1;
                }

                split.LoadBalancingWeight = weight;
                groups.Add(split);
            }
        }

        assignment.Endpoints.Clear();
        assignment.Endpoints.AddRange(groups);
        var priorities = new int[groups.Count];
        for (var i = 0; i < priorities.Length; i++)
        {
            priorities[i] = (int)groups[i].Priority;
        }

        Renumber(assignment, priorities);
    }

    // Priorities must run 0…N without gaps: the distinct values in order become 0, 1, 2…
    private static void Renumber(ClusterLoadAssignment assignment, int[] priorities)
    {
        var distinct = priorities.Distinct().Order().ToArray();
        for (var i = 0; i < priorities.Length; i++)
        {
            assignment.Endpoints[i].Priority = (uint)Array.IndexOf(distinct, priorities[i]);
        }
    }

    private static Locality ToModel(Envoy.Config.Core.V3.Locality? locality) =>
        locality is null ? Locality.None : new Locality(locality.Region, locality.Zone, locality.SubZone);

    private static ImmutableDictionary<string, string> ClientLabels(ClientWorkload client) =>
        WithLocality(client.Labels.ToImmutableDictionary(StringComparer.Ordinal), client.Locality);

    private static ImmutableDictionary<string, string> WithLocality(ImmutableDictionary<string, string> labels, Locality locality)
    {
        if (locality.Region.Length > 0 && !labels.ContainsKey(RegionLabel))
        {
            labels = labels.SetItem(RegionLabel, locality.Region);
        }

        if (locality.Zone.Length > 0 && !labels.ContainsKey(ZoneLabel))
        {
            labels = labels.SetItem(ZoneLabel, locality.Zone);
        }

        if (locality.SubZone.Length > 0 && !labels.ContainsKey(SubZoneLabel))
        {
            labels = labels.SetItem(SubZoneLabel, locality.SubZone);
        }

        return labels;
    }

    private static ImmutableDictionary<string, string> EndpointLabels(MeshService service, int port, LbEndpoint endpoint)
    {
        if (endpoint.Endpoint?.Address?.SocketAddress is not { } socket)
        {
            return ImmutableDictionary<string, string>.Empty;
        }

        foreach (var candidate in service.Endpoints)
        {
            if (candidate.Address == socket.Address && candidate.Ports.TryGetValue(port, out var target) && target == socket.PortValue)
            {
                return WithLocality(candidate.Labels, candidate.Locality);
            }
        }

        return ImmutableDictionary<string, string>.Empty;
    }
}
