using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Authorization;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.ControlPlane.Xds;
using Mesh.Xds;

namespace Mesh.ControlPlane.Dashboard;

/// <summary>
/// The JSON the dashboard page draws: namespaces with their services and workloads, the traffic edges between them
/// (rates from load reports, mTLS and configured weights from the model), the xDS clients and the configuration errors.
/// </summary>
/// <remarks>
/// A workload is named after its endpoints' <c>app</c> and <c>version</c> labels (<c>reviews-v1</c>), as the node
/// metadata <c>WORKLOAD_NAME</c> of Mesh's bootstraps and Istio's names it; load reports name their source by that
/// metadata, so a reporting client lands on its own node. An edge's lock means the configuration tells the client
/// to use mutual TLS to that destination — what the control plane serves is the source of truth, the same decision
/// <see cref="SecurityTranslator.UpstreamTls"/> makes for the cluster (DestinationRule <c>ISTIO_MUTUAL</c>/<c>MUTUAL</c>,
/// or no TLS setting and a destination endpoint whose PeerAuthentication is STRICT).
/// </remarks>
internal static class DashboardSnapshot
{
    private const string ExternalNamespace = "(external)";

    /// <summary>Builds the snapshot.</summary>
    public static JsonObject Build(DashboardInputs inputs)
    {
        var mesh = inputs.Mesh;
        var namespaces = new SortedDictionary<string, NamespaceGroup>(StringComparer.Ordinal);
        var workloadIds = new Dictionary<string, string>(StringComparer.Ordinal); // "ns/name" of every workload drawn
        var services = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var serviceWorkloads = new Dictionary<string, List<(string Id, ServiceEndpoint Endpoint)>>(StringComparer.Ordinal);

        var connectedWorkloads = new HashSet<string>(StringComparer.Ordinal);
        foreach (var client in inputs.Clients)
        {
            if (client.DisconnectedAt is null && client.Workload.Length > 0)
            {
                connectedWorkloads.Add(client.Namespace + "/" + client.Workload);
            }
        }

        foreach (var service in mesh.Services.Values.OrderBy(s => s.Host, StringComparer.Ordinal))
        {
            var group = Group(namespaces, service.Namespace);
            var json = Service(mesh, service, connectedWorkloads, workloadIds, out var members);
            services[service.Host] = json;
            serviceWorkloads[service.Host] = members;
            group.Services.Add(json);
        }

        // Edges: the busiest first, those idle for too long left out.
        var rates = inputs.Edges
            .Where(e => inputs.Now - e.LastActive <= DashboardLimits.IdleEdgeRetention)
            .OrderByDescending(e => e.RequestsPerSecond)
            .ThenBy(e => EdgeId(e.Key), StringComparer.Ordinal)
            .Take(DashboardLimits.MaxEdges)
            .ToList();
        var perSourceService = new Dictionary<(string, string, string), double>();
        foreach (var rate in rates)
        {
            var k = (rate.Key.SourceNamespace, rate.Key.SourceWorkload, rate.Key.DestinationService);
            perSourceService[k] = perSourceService.GetValueOrDefault(k) + rate.RequestsPerSecond;
        }

        var edges = new JsonArray();
        foreach (var rate in rates.OrderBy(e => EdgeId(e.Key), StringComparer.Ordinal))
        {
            var key = rate.Key;
            var source = key.SourceNamespace + "/" + key.SourceWorkload;
            if (!workloadIds.ContainsKey(source))
            {
                AddLoneWorkload(namespaces, workloadIds, key.SourceNamespace, key.SourceWorkload, connectedWorkloads.Contains(source));
            }

            if (!services.ContainsKey(key.DestinationService))
            {
                var external = ExternalService(key.DestinationService, mesh.ClusterDomain);
                services[key.DestinationService] = external;
                serviceWorkloads[key.DestinationService] = [];
                Group(namespaces, external["namespace"]!.GetValue<string>()).Services.Add(external);
            }

            var sum = perSourceService[(key.SourceNamespace, key.SourceWorkload, key.DestinationService)];
            edges.Add(Edge(mesh, rate, source, Target(mesh, key, serviceWorkloads[key.DestinationService]), sum));
        }

        foreach (var client in inputs.Clients)
        {
            if (client.Workload.Length > 0 && !workloadIds.ContainsKey(client.Namespace + "/" + client.Workload))
            {
                AddLoneWorkload(namespaces, workloadIds, client.Namespace, client.Workload, client.DisconnectedAt is null);
            }
        }

        return new JsonObject
        {
            ["version"] = mesh.Version,
            ["generatedAt"] = inputs.Now.ToString("O", CultureInfo.InvariantCulture),
            ["loadReporting"] = inputs.LoadReporting,
            ["reports"] = inputs.Reports,
            ["rateWindowSeconds"] = inputs.RateWindow.TotalSeconds,
            ["namespaces"] = new JsonArray([.. namespaces.Select(n => (JsonNode)new JsonObject
            {
                ["name"] = n.Key,
                ["services"] = new JsonArray([.. n.Value.Services]),
                ["workloads"] = new JsonArray([.. n.Value.Workloads]),
            })]),
            ["edges"] = edges,
            ["clients"] = new JsonArray([.. inputs.Clients.Select(c => (JsonNode)Client(c))]),
            ["errors"] = Errors(inputs.Errors),
            ["warnings"] = Errors(inputs.Warnings),
            ["notApplied"] = Errors(mesh.NotApplied),
        };
    }

    /// <summary>The workload an endpoint belongs to: <c>app-version</c>, else <c>app</c>, else the service's short name.</summary>
    internal static string WorkloadName(ServiceEndpoint endpoint, MeshService service)
    {
        var app = endpoint.Labels.GetValueOrDefault("app") ?? endpoint.Labels.GetValueOrDefault("app.kubernetes.io/name");
        var version = endpoint.Labels.GetValueOrDefault("version") ?? endpoint.Labels.GetValueOrDefault("app.kubernetes.io/version");
        return app is null ? ShortName(service.Host, service.Namespace)
            : version is null ? app
            : app + "-" + version;
    }

    /// <summary>The name a user writes for a host in its own namespace: <c>reviews</c> for <c>reviews.default.svc.cluster.local</c>.</summary>
    internal static string ShortName(string host, string ns)
    {
        var suffix = "." + ns + ".svc.";
        var at = host.IndexOf(suffix, StringComparison.Ordinal);
        return at > 0 ? host[..at] : host;
    }

    private static string EdgeId(LoadEdgeKey key) =>
        key.SourceNamespace + "/" + key.SourceWorkload + ">" + key.DestinationService + ":" + key.DestinationPort.ToString(CultureInfo.InvariantCulture)
        + (key.DestinationSubset.Length > 0 ? "/" + key.DestinationSubset : "");

    private static NamespaceGroup Group(SortedDictionary<string, NamespaceGroup> namespaces, string name)
    {
        if (!namespaces.TryGetValue(name, out var group))
        {
            group = new NamespaceGroup();
            namespaces.Add(name, group);
        }

        return group;
    }

    private static void AddLoneWorkload(
        SortedDictionary<string, NamespaceGroup> namespaces, Dictionary<string, string> workloadIds, string ns, string name, bool connected)
    {
        var id = ns + "/" + name;
        workloadIds[id] = id;
        Group(namespaces, ns).Workloads.Add(new JsonObject
        {
            ["id"] = id,
            ["name"] = name,
            ["namespace"] = ns,
            ["connected"] = connected,
            ["endpoints"] = new JsonArray(),
        });
    }

    private static JsonObject Service(
        MeshSnapshot mesh, MeshService service, HashSet<string> connected, Dictionary<string, string> workloadIds, out List<(string Id, ServiceEndpoint Endpoint)> members)
    {
        members = [];
        var workloads = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        var peerAuthentications = new SortedDictionary<string, PeerAuthenticationPolicy>(StringComparer.Ordinal);
        var authorizationPolicies = new SortedDictionary<string, AuthorizationPolicyModel>(StringComparer.Ordinal);
        var modes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in service.Endpoints)
        {
            var name = WorkloadName(endpoint, service);
            var id = service.Namespace + "/" + name;
            members.Add((id, endpoint));
            if (!workloads.TryGetValue(name, out var workload))
            {
                workload = new JsonObject
                {
                    ["id"] = id,
                    ["name"] = name,
                    ["namespace"] = service.Namespace,
                    ["connected"] = connected.Contains(id),
                    ["labels"] = Labels(endpoint.Labels),
                    ["serviceAccount"] = endpoint.ServiceAccount,
                    ["endpoints"] = new JsonArray(),
                };
                workloads.Add(name, workload);
            }

            var firstTarget = endpoint.Ports.IsEmpty ? 0 : endpoint.Ports.Values.Min();
            var mode = PeerAuthenticationPolicy.Resolve(mesh.PeerAuthentications, service.Namespace, endpoint.Labels, firstTarget);
            modes.Add(ModeName(mode));
            workload["endpoints"]!.AsArray().Add(new JsonObject
            {
                ["address"] = endpoint.Address,
                ["ports"] = string.Join(", ", endpoint.Ports.OrderBy(p => p.Key).Select(p => p.Key == p.Value
                    ? p.Key.ToString(CultureInfo.InvariantCulture)
                    : p.Key.ToString(CultureInfo.InvariantCulture) + "→" + p.Value.ToString(CultureInfo.InvariantCulture))),
                ["health"] = endpoint.Health.ToString().ToUpperInvariant(),
                ["locality"] = endpoint.Locality == Locality.None ? "" : endpoint.Locality.ToString(),
                ["weight"] = endpoint.Weight,
                ["mtlsMode"] = ModeName(mode),
            });

            foreach (var policy in mesh.PeerAuthentications)
            {
                if (Applies(policy, service.Namespace, endpoint.Labels))
                {
                    peerAuthentications.TryAdd(policy.Namespace + "/" + policy.Name, policy);
                }
            }

            foreach (var policy in AuthorizationPolicyScope.ForWorkload(mesh, service.Namespace, endpoint.Labels))
            {
                authorizationPolicies.TryAdd(policy.Namespace + "/" + policy.Name, policy);
            }
        }

        foreach (var id in workloads.Values.Select(w => w["id"]!.GetValue<string>()))
        {
            workloadIds.TryAdd(id, service.Host);
        }

        var json = new JsonObject
        {
            ["id"] = "svc:" + service.Host,
            ["host"] = service.Host,
            ["name"] = ShortName(service.Host, service.Namespace),
            ["namespace"] = service.Namespace,
            ["declaredBy"] = service.DeclaredBy,
            ["ports"] = new JsonArray([.. service.Ports.Select(p => (JsonNode)(p.Number.ToString(CultureInfo.InvariantCulture) + "/" + p.Protocol))]),
            ["workloads"] = new JsonArray([.. workloads.Values]),
            ["mtlsMode"] = modes.Count == 0 ? null : string.Join(" / ", modes),
            ["peerAuthentications"] = new JsonArray([.. peerAuthentications.Values.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p.Namespace + "/" + p.Name,
                ["mode"] = ModeName(p.Mode),
                ["scope"] = p.Selector is not null ? "workload" : p.Namespace == PeerAuthenticationPolicy.RootNamespace ? "mesh" : "namespace",
                ["declaredBy"] = p.DeclaredBy,
            })]),
            ["authorizationPolicies"] = new JsonArray([.. authorizationPolicies.Values.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p.Namespace + "/" + p.Name,
                ["action"] = p.Action.ToString().ToUpperInvariant(),
                ["rules"] = p.Rules.Length,
                ["declaredBy"] = p.DeclaredBy,
            })]),
            ["virtualService"] = null,
            ["destinationRule"] = null,
        };

        if (mesh.Routes.TryGetValue(service.Host, out var routes))
        {
            json["virtualService"] = new JsonObject
            {
                ["declaredBy"] = routes.DeclaredBy,
                ["rules"] = new JsonArray([.. routes.Rules.Select(r => (JsonNode)Rule(r, service.Namespace))]),
            };
        }

        if (mesh.Policies.TryGetValue(service.Host, out var destination))
        {
            json["destinationRule"] = new JsonObject
            {
                ["declaredBy"] = destination.DeclaredBy,
                ["loadBalancer"] = destination.Traffic.LoadBalancer.ToString(),
                ["tlsMode"] = destination.Traffic.Tls?.Mode ?? destination.Traffic.TlsMode,
                ["subsets"] = new JsonArray([.. destination.Subsets.Select(s => (JsonNode)new JsonObject
                {
                    ["name"] = s.Name,
                    ["labels"] = Labels(s.Labels),
                })]),
            };
        }

        return json;
    }

    private static JsonObject ExternalService(string host, string clusterDomain)
    {
        // outbound|…|host of a service the model does not know (removed since, or another source's cluster name).
        var parts = host.Split('.');
        var ns = parts.Length >= 3 && parts[2] == "svc" && host.EndsWith("." + clusterDomain, StringComparison.Ordinal) ? parts[1] : ExternalNamespace;
        return new JsonObject
        {
            ["id"] = "svc:" + host,
            ["host"] = host,
            ["name"] = ShortName(host, ns),
            ["namespace"] = ns,
            ["external"] = true,
            ["declaredBy"] = null,
            ["ports"] = new JsonArray(),
            ["workloads"] = new JsonArray(),
            ["mtlsMode"] = null,
            ["peerAuthentications"] = new JsonArray(),
            ["authorizationPolicies"] = new JsonArray(),
            ["virtualService"] = null,
            ["destinationRule"] = null,
        };
    }

    private static JsonObject Rule(HttpRouteRule rule, string ns)
    {
        var total = 0;
        foreach (var destination in rule.Destinations)
        {
            total += destination.Weight;
        }

        var json = new JsonObject
        {
            ["name"] = rule.Name,
            ["match"] = rule.Matches.IsEmpty ? "any request" : string.Join(" or ", rule.Matches.Select(Describe)),
            ["destinations"] = new JsonArray([.. rule.Destinations.Select(d => (JsonNode)new JsonObject
            {
                ["host"] = d.Host,
                ["name"] = ShortName(d.Host, ns),
                ["subset"] = d.Subset,
                ["port"] = d.Port,
                ["weight"] = d.Weight,
                ["percent"] = total > 0 ? Math.Round(100d * d.Weight / total, 1) : 0,
            })]),
        };
        if (rule.Fault is { } fault)
        {
            var parts = new List<string>();
            if (fault.Delay is { } delay)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"delay {delay.TotalMilliseconds} ms for {fault.DelayPercent} %"));
            }

            if (fault.AbortGrpcStatus is { } grpc)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"abort {GrpcName(grpc)} for {fault.AbortPercent} %"));
            }
            else if (fault.AbortHttpStatus is { } http)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"abort HTTP {http} for {fault.AbortPercent} %"));
            }

            json["fault"] = string.Join(", ", parts);
        }

        if (rule.Timeout is { } timeout)
        {
            json["timeout"] = string.Create(CultureInfo.InvariantCulture, $"{timeout.TotalMilliseconds} ms");
        }

        if (rule.Retries is { Attempts: > 0 } retries)
        {
            json["retries"] = retries.Attempts;
        }

        if (rule.Redirect is not null)
        {
            json["redirect"] = true;
        }

        if (rule.DirectResponse is not null)
        {
            json["directResponse"] = true;
        }

        return json;
    }

    private static string GrpcName(int code) =>
        code >= 0 && code < GrpcNames.Length ? GrpcNames[code] : code.ToString(CultureInfo.InvariantCulture);

    private static readonly string[] GrpcNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ];

    private static string Describe(RequestMatch match)
    {
        var parts = new List<string>();
        if (match.Uri is { } uri)
        {
            parts.Add("uri " + Describe(uri));
        }

        foreach (var header in match.Headers)
        {
            parts.Add("header " + header.Name + (header.Invert ? " not " : " ") + (header.Condition is { } c ? Describe(c) : "present"));
        }

        foreach (var query in match.QueryParameters)
        {
            parts.Add("query " + query);
        }

        if (match.SourceLabels is { } labels)
        {
            parts.Add("source " + string.Join(",", labels.Select(l => l.Key + "=" + l.Value)));
        }

        if (match.SourceNamespace is { } sourceNamespace)
        {
            parts.Add("source namespace " + sourceNamespace);
        }

        if (match.Port is { } port)
        {
            parts.Add("port " + port.ToString(CultureInfo.InvariantCulture));
        }

        return parts.Count == 0 ? "any request" : string.Join(" and ", parts);
    }

    private static string Describe(StringCondition condition) => condition.Kind switch
    {
        StringMatchKind.Exact => "= " + condition.Value,
        StringMatchKind.Prefix => "starts with " + condition.Value,
        _ => "~ " + condition.Value,
    };

    private static string? Target(MeshSnapshot mesh, LoadEdgeKey key, List<(string Id, ServiceEndpoint Endpoint)> members)
    {
        ImmutableDictionary<string, string>? selector = null;
        if (key.DestinationSubset.Length > 0)
        {
            if (!mesh.Policies.TryGetValue(key.DestinationService, out var policy) || policy.FindSubset(key.DestinationSubset) is not { } subset)
            {
                return null;
            }

            selector = subset.Labels;
        }

        string? target = null;
        foreach (var (id, endpoint) in members)
        {
            if (selector is not null && !endpoint.Matches(selector))
            {
                continue;
            }

            if (target is not null && target != id)
            {
                return null; // several workloads: the edge goes to the service.
            }

            target = id;
        }

        return target;
    }

    private static JsonObject Edge(MeshSnapshot mesh, EdgeRate rate, string source, string? target, double sourceServiceRps)
    {
        var key = rate.Key;
        // No request issued in the window: idle, even when the last stragglers finished with errors.
        var health = rate.RequestsPerSecond <= 0 ? "idle"
            : rate.ErrorRate >= DashboardLimits.FailingErrorRate ? "failing"
            : rate.ErrorRate >= DashboardLimits.DegradedErrorRate ? "degraded"
            : "healthy";
        return new JsonObject
        {
            ["id"] = EdgeId(key),
            ["source"] = source,
            ["sourceNamespace"] = key.SourceNamespace,
            ["sourceWorkload"] = key.SourceWorkload,
            ["service"] = "svc:" + key.DestinationService,
            ["host"] = key.DestinationService,
            ["port"] = key.DestinationPort,
            ["subset"] = key.DestinationSubset.Length > 0 ? key.DestinationSubset : null,
            ["target"] = target,
            ["rps"] = Math.Round(rate.RequestsPerSecond, 3),
            ["errorRate"] = rate.ErrorRate is { } e ? Math.Round(e, 4) : null,
            ["p50Ms"] = rate.P50Milliseconds is { } p50 ? Math.Round(p50, 2) : null,
            ["p99Ms"] = rate.P99Milliseconds is { } p99 ? Math.Round(p99, 2) : null,
            ["inProgress"] = rate.InProgress,
            ["share"] = sourceServiceRps > 0 ? Math.Round(rate.RequestsPerSecond / sourceServiceRps, 4) : null,
            ["weight"] = ConfiguredWeight(mesh, key),
            ["mtls"] = MutualTls(mesh, key),
            ["health"] = health,
            ["total"] = new JsonObject
            {
                ["issued"] = rate.Total.Issued,
                ["succeeded"] = rate.Total.Succeeded,
                ["errored"] = rate.Total.Errored,
            },
        };
    }

    /// <summary>The percentage of the catch-all route's traffic the configuration sends to this edge's subset, or null without one.</summary>
    private static double? ConfiguredWeight(MeshSnapshot mesh, LoadEdgeKey key)
    {
        if (!mesh.Routes.TryGetValue(key.DestinationService, out var routes))
        {
            return null;
        }

        foreach (var rule in routes.Rules)
        {
            if (!rule.Matches.IsEmpty || rule.Destinations.IsEmpty)
            {
                continue;
            }

            int total = 0, mine = 0;
            foreach (var destination in rule.Destinations)
            {
                total += destination.Weight;
                if (destination.Host == key.DestinationService && (destination.Subset ?? "") == key.DestinationSubset)
                {
                    mine += destination.Weight;
                }
            }

            return total > 0 ? Math.Round(100d * mine / total, 1) : null;
        }

        return null;
    }

    /// <summary>Whether the client is configured to use mutual TLS to this destination (see the class remarks).</summary>
    internal static bool MutualTls(MeshSnapshot mesh, LoadEdgeKey key)
    {
        if (!mesh.Services.TryGetValue(key.DestinationService, out var service) || service.Ports.IsEmpty)
        {
            return false;
        }

        var port = service.FindPort(key.DestinationPort) ?? service.Ports[0];
        var policy = mesh.Policies.GetValueOrDefault(key.DestinationService);
        var subset = key.DestinationSubset.Length > 0 ? policy?.FindSubset(key.DestinationSubset) : null;
        var traffic = (subset?.Traffic ?? policy?.Traffic ?? Model.TrafficPolicy.Default).ForPort(port.Number);
        return traffic.Tls?.Mode == "MUTUAL" || SecurityTranslator.UpstreamTls(mesh, service, port, subset, traffic) is not null;
    }

    private static JsonObject Client(DashboardClient client)
    {
        var types = new JsonArray();
        XdsNack? lastNack = null;
        foreach (var status in client.Types.OrderBy(s => s.TypeUrl, StringComparer.Ordinal))
        {
            types.Add(new JsonObject
            {
                ["type"] = ShortType(status.TypeUrl),
                ["sentVersion"] = status.SentVersion,
                ["ackedVersion"] = status.AckedVersion,
                ["status"] = status.LastNack is { } n && n.Nonce == status.SentNonce ? "NACKED"
                    : status.SentVersion is null ? "REQUESTED"
                    : status.SentVersion == status.AckedVersion ? "ACKED" : "SENT",
                ["resources"] = status.Resources.Count,
            });
            if (status.LastNack is { } nack && (lastNack is null || nack.At > lastNack.At))
            {
                lastNack = nack;
                types[^1]!["lastNack"] = nack.Message;
            }
        }

        return new JsonObject
        {
            ["nodeId"] = client.NodeId,
            ["namespace"] = client.Namespace,
            ["workload"] = client.Workload,
            ["connected"] = client.DisconnectedAt is null,
            ["protocol"] = client.Protocol,
            ["peer"] = client.Peer,
            ["connectedAt"] = client.ConnectedAt.ToString("O", CultureInfo.InvariantCulture),
            ["disconnectedAt"] = client.DisconnectedAt?.ToString("O", CultureInfo.InvariantCulture),
            ["types"] = types,
            ["lastNack"] = lastNack is null ? null : new JsonObject
            {
                ["message"] = lastNack.Message,
                ["version"] = lastNack.Version,
                ["at"] = lastNack.At.ToString("O", CultureInfo.InvariantCulture),
            },
        };
    }

    private static string ShortType(string typeUrl)
    {
        return typeUrl switch
        {
            XdsTypeUrls.Listener => "LDS",
            XdsTypeUrls.RouteConfiguration => "RDS",
            XdsTypeUrls.Cluster => "CDS",
            XdsTypeUrls.ClusterLoadAssignment => "EDS",
            _ => typeUrl[(typeUrl.LastIndexOf('.') + 1)..],
        };
    }

    private static JsonArray Errors(IEnumerable<ConfigError> errors) => new([.. errors.Select(e => (JsonNode)new JsonObject
    {
        ["origin"] = e.Origin,
        ["resource"] = e.Resource,
        ["field"] = e.Field,
        ["message"] = e.Message,
        ["text"] = e.ToString(),
    })]);

    private static JsonObject Labels(IEnumerable<KeyValuePair<string, string>> labels)
    {
        var json = new JsonObject();
        foreach (var (key, value) in labels.OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            json[key] = value;
        }

        return json;
    }

    private static bool Applies(PeerAuthenticationPolicy policy, string ns, ImmutableDictionary<string, string> labels)
    {
        if (policy.Selector is null)
        {
            return policy.Namespace == ns || policy.Namespace == PeerAuthenticationPolicy.RootNamespace;
        }

        if (policy.Namespace != ns)
        {
            return false;
        }

        foreach (var (key, value) in policy.Selector)
        {
            if (!labels.TryGetValue(key, out var own) || own != value)
            {
                return false;
            }
        }

        return true;
    }

    private static string ModeName(MtlsMode mode) => mode switch
    {
        MtlsMode.Strict => "STRICT",
        MtlsMode.Disable => "DISABLE",
        MtlsMode.Permissive => "PERMISSIVE",
        _ => "UNSET",
    };

    private sealed class NamespaceGroup
    {
        public List<JsonNode> Services { get; } = [];

        public List<JsonNode> Workloads { get; } = [];
    }
}
