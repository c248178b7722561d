using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Fault.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Type.Matcher.V3;
using Envoy.Type.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.ControlPlane.Model;
using Mesh.Xds;
using CommonFault = Envoy.Extensions.Filters.Common.Fault.V3;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using ModelLocality = Mesh.ControlPlane.Model.Locality;
using Route = Envoy.Config.Route.V3.Route;
using RetryPolicy = Envoy.Config.Route.V3.RetryPolicy;
using Endpoint = Envoy.Config.Endpoint.V3.Endpoint;

namespace Mesh.ControlPlane.Translation;

/// <summary>
/// Translates a <see cref="MeshSnapshot"/> into the xDS resources gRPC's proxyless clients (A27 and later)
/// consume: an API listener per service port named <c>host:port</c> (and <c>host</c> for a one-port service)
/// whose HTTP connection manager points at a route configuration over ADS; one route configuration per service
/// port; an EDS cluster per service port and subset, named <c>outbound|port|subset|host</c>; and a load
/// assignment per cluster. A pure function: the same snapshot always gives the same resources.
/// </summary>
public static class ProxylessTranslator
{
    /// <summary>The HTTP filter name of the fault filter.</summary>
    public const string FaultFilterName = "envoy.filters.http.fault";

    /// <summary>The HTTP filter name of the router filter.</summary>
    public const string RouterFilterName = "envoy.filters.http.router";

    /// <summary>The filter state key gRPC clients hash on for per-channel affinity (gRFC A42).</summary>
    public const string ChannelIdFilterStateKey = "io.grpc.channel_id";

    private static readonly ConfigSource Ads = new() { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 };

    /// <summary>
    /// Translates <paramref name="snapshot"/>; with <paramref name="loadReporting"/>, every EDS cluster names the control
    /// plane itself as its load reporting server (<c>lrs_server: { self: {} }</c>).
    /// </summary>
    public static XdsResourceSet Translate(MeshSnapshot snapshot, bool loadReporting = false)
    {
        var listeners = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        var routes = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        var clusters = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        var endpoints = ImmutableDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
        var clientSpecific = ImmutableHashSet.CreateBuilder<(string TypeUrl, string Name)>();

        foreach (var service in snapshot.Services.Values)
        {
            snapshot.Policies.TryGetValue(service.Host, out var policy);
            snapshot.Routes.TryGetValue(service.Host, out var table);
            foreach (var port in service.Ports)
            {
                var routeName = $"{service.Host}:{port.Number}";
                var listener = BuildListener(routeName, routeName);
                listeners.Add(listener.Name, new XdsResource(listener.Name, listener));
                if (service.Ports.Length == 1)
                {
                    var bare = BuildListener(service.Host, routeName);
                    listeners.Add(bare.Name, new XdsResource(bare.Name, bare));
                }

                var route = BuildRouteConfiguration(snapshot, service, port, table, routeName, client: null);
                routes.Add(route.Name, new XdsResource(route.Name, route));
                if (table is not null && DependsOnSource(table))
                {
                    clientSpecific.Add((XdsTypeUrls.RouteConfiguration, routeName));
                }

                AddCluster(snapshot, clusters, endpoints, service, port, subset: null, (policy?.Traffic ?? TrafficPolicy.Default).ForPort(port.Number), clientSpecific);
                foreach (var subset in policy?.Subsets ?? [])
                {
                    AddCluster(snapshot, clusters, endpoints, service, port, subset, subset.Traffic.ForPort(port.Number), clientSpecific);
                }
            }
        }

        // Gateway route configurations depend on the asking gateway workload (which Gateways select it); a client no
        // Gateway selects is sent an empty one.
        foreach (var gatewayRoute in Gateways.GatewayTranslator.RouteNames(snapshot))
        {
            if (!routes.ContainsKey(gatewayRoute))
            {
                routes.Add(gatewayRoute, new XdsResource(gatewayRoute, new RouteConfiguration { Name = gatewayRoute }));
                clientSpecific.Add((XdsTypeUrls.RouteConfiguration, gatewayRoute));
            }
        }

        if (loadReporting)
        {
            foreach (var (name, resource) in clusters.ToArray())
            {
                if (resource.Message is Cluster { Type: Cluster.Types.DiscoveryType.Eds } eds)
                {
                    var reporting = eds.Clone();
                    reporting.LrsServer = new ConfigSource { Self = new SelfConfigSource() };
                    clusters[name] = new XdsResource(name, reporting);
                }
            }
        }

        var assignments = endpoints.ToImmutable();
        var byType = ImmutableDictionary.CreateRange(StringComparer.Ordinal, new[]
        {
            KeyValuePair.Create(XdsTypeUrls.Listener, listeners.ToImmutable()),
            KeyValuePair.Create(XdsTypeUrls.RouteConfiguration, routes.ToImmutable()),
            KeyValuePair.Create(XdsTypeUrls.Cluster, clusters.ToImmutable()),
            KeyValuePair.Create(XdsTypeUrls.ClusterLoadAssignment, assignments),
        });
        return new XdsResourceSet(
            snapshot.Version,
            byType,
            (alias, ns) => ResolveListenerName(snapshot, alias, ns),
            (name, workload) => (IMessage?)BuildInboundListener(snapshot, name, workload) ?? Gateways.GatewayTranslator.BuildListener(snapshot, name, workload),
            clientSpecific.ToImmutable(),
            (typeUrl, name, workload) => typeUrl switch
            {
                XdsTypeUrls.RouteConfiguration => (IMessage?)BuildRouteConfigurationFor(snapshot, name, workload)
                    ?? Gateways.GatewayTranslator.BuildRouteConfiguration(snapshot, name, workload),

                // Locality load balancing: priorities and locality weights relative to the client's locality.
                XdsTypeUrls.ClusterLoadAssignment => LocalityLoadBalancer.ForClient(snapshot, name, (ClusterLoadAssignment)assignments[name].Message, workload),
                _ => null,
            },
            snapshot.Sidecars.IsEmpty && snapshot.Services.Values.All(static s => s.ExportTo is ["*"]) ? null : (typeUrl, name, workload) => IsVisible(snapshot, typeUrl, name, workload),
            snapshot.Telemetries.IsEmpty ? null : (listener, workload) => TelemetryTranslator.Decorate(snapshot, listener, workload));
    }

    /// <summary>
    /// Whether <paramref name="client"/> may be sent the resource <paramref name="name"/>: always, unless it belongs to
    /// a service not exported to the client's namespace (ServiceEntry <c>exportTo</c>), or a Sidecar scopes the
    /// client and the service is outside its egress hosts.
    /// </summary>
    public static bool IsVisible(MeshSnapshot snapshot, string typeUrl, string name, ClientWorkload client)
    {
        var scope = SidecarScope.For(snapshot.Sidecars, client.Namespace, client.Labels);
        string? host = null;
        if (typeUrl == XdsTypeUrls.Listener)
        {
            if (ResolveListenerName(snapshot, name, client.Namespace) is not { } canonical)
            {
                return true; // not a service listener (an inbound listener of the client's own server).
            }

            host = canonical;
        }
        else if (typeUrl == XdsTypeUrls.RouteConfiguration)
        {
            host = name;
        }
        else if (typeUrl is XdsTypeUrls.Cluster or XdsTypeUrls.ClusterLoadAssignment)
        {
            host = name[(name.LastIndexOf('|') + 1)..];
        }

        if (host is null)
        {
            return true;
        }

        var colon = host.LastIndexOf(':');
        if (colon > 0)
        {
            host = host[..colon];
        }

        return !snapshot.Services.TryGetValue(host, out var service)
            || (service.IsExportedTo(client.Namespace) && (scope is null || scope.Allows(service)));
    }

    /// <summary>
    /// The route configuration <paramref name="name"/> (<c>host:port</c>) as <paramref name="client"/> receives it:
    /// matches on <c>sourceLabels</c> and <c>sourceNamespace</c> are kept only when the client meets them, as Istio
    /// gives each proxy only the rules whose source matches it. Null when the name is not a route configuration.
    /// </summary>
    public static RouteConfiguration? BuildRouteConfigurationFor(MeshSnapshot snapshot, string name, ClientWorkload client)
    {
        var colon = name.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(name.AsSpan(colon + 1), out var number)
            || !snapshot.Services.TryGetValue(name[..colon], out var service) || service.FindPort(number) is not { } port)
        {
            return null;
        }

        snapshot.Routes.TryGetValue(service.Host, out var table);
        return BuildRouteConfiguration(snapshot, service, port, table, name, client);
    }

    private static bool DependsOnSource(RouteTable table)
    {
        foreach (var rule in table.Rules)
        {
            foreach (var match in rule.Matches)
            {
                if (match.DependsOnSource)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a proxyless client sends a match's requests by its rule. A match the client cannot evaluate
    /// (query parameters, scheme), one bound only to gateways, and one whose source conditions the client does not
    /// meet (or, for an unknown client, any source condition) is left out — never widened to a catch-all.
    /// </summary>
    private static bool Applies(RequestMatch match, int port, ClientWorkload? client)
    {
        if ((match.Port is { } only && only != port) || !match.AppliesToMesh || !match.QueryParameters.IsEmpty || match.Scheme is not null)
        {
            return false;
        }

        return !match.DependsOnSource || (client is not null && match.MatchesSource(client.Namespace, client.Labels));
    }

    /// <summary>
    /// The inbound listener a server of <paramref name="workload"/> asks for as <paramref name="name"/>
    /// (<c>grpc/server?xds.resource.listening_address=ip:port</c>), or null when the name is not one.
    /// </summary>
    public static Listener? BuildInboundListener(MeshSnapshot snapshot, string name, ClientWorkload workload)
    {
        if (!XdsSecurityNames.TryParseServerListenerName(name, out var host, out var port))
        {
            return null;
        }

        return SecurityTranslator.BuildInboundListener(snapshot, workload, name, host, port, AuthorizationFilters(snapshot, workload));
    }

    private static IReadOnlyList<Hcm.HttpFilter> AuthorizationFilters(MeshSnapshot snapshot, ClientWorkload workload) =>
        Authorization.RbacFilterBuilder.Build(Authorization.AuthorizationPolicyScope.ForWorkload(snapshot, workload.Namespace, workload.Labels), snapshot.TrustDomain);

    /// <summary>
    /// The canonical listener name a client in <paramref name="clientNamespace"/> means by <paramref name="name"/>
    /// (<c>reviews</c>, <c>reviews:9080</c>, <c>reviews.default.svc.cluster.local:9080</c>), or null when none.
    /// </summary>
    public static string? ResolveListenerName(MeshSnapshot snapshot, string name, string clientNamespace)
    {
        var host = name;
        int? port = null;
        var colon = name.LastIndexOf(':');
        if (colon > 0 && int.TryParse(name.AsSpan(colon + 1), out var parsed))
        {
            host = name[..colon];
            port = parsed;
        }

        if (snapshot.FindService(host, clientNamespace) is not { } service)
        {
            return null;
        }

        if (port is null)
        {
            return service.Ports.Length == 1 ? service.Host : null;
        }

        return service.FindPort(port.Value) is null ? null : $"{service.Host}:{port}";
    }

    private static Listener BuildListener(string name, string routeName)
    {
        var hcm = new Hcm.HttpConnectionManager
        {
            StatPrefix = name,
            Rds = new Hcm.Rds { ConfigSource = Ads, RouteConfigName = routeName },
            HttpFilters =
            {
                new Hcm.HttpFilter { Name = FaultFilterName, TypedConfig = Any.Pack(new HTTPFault()) },
                new Hcm.HttpFilter { Name = RouterFilterName, TypedConfig = Any.Pack(new Router()) },
            },
        };
        return new Listener { Name = name, ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } };
    }

    private static RouteConfiguration BuildRouteConfiguration(MeshSnapshot snapshot, MeshService service, ServicePort port, RouteTable? table, string name, ClientWorkload? client)
    {
        var host = new VirtualHost { Name = name };
        foreach (var alias in HostNames.Aliases(service.Host, service.Namespace, snapshot.ClusterDomain))
        {
            host.Domains.Add(alias);
            host.Domains.Add($"{alias}:{port.Number}");
        }

        if (table is null)
        {
            host.Routes.Add(new Route
            {
                Name = "default",
                Match = new RouteMatch { Prefix = "/" },
                Route_ = BuildAction(snapshot, [new WeightedDestination(service.Host, null, null, 100)], port.Number, rule: null),
            });
        }
        else
        {
            for (var i = 0; i < table.Rules.Length; i++)
            {
                var rule = table.Rules[i];
                var template = BuildRuleTemplate(snapshot, rule, port.Number, rule.Name ?? $"route-{i}");
                if (rule.Matches.IsEmpty)
                {
                    host.Routes.Add(WithMatch(template, rule, new RouteMatch { Prefix = "/" }, uri: null));
                    continue;
                }

                // A rule whose every match is left out is left out whole: it never becomes a catch-all.
                for (var m = 0; m < rule.Matches.Length; m++)
                {
                    var match = rule.Matches[m];
                    if (!Applies(match, port.Number, client))
                    {
                        continue;
                    }

                    host.Routes.Add(WithMatch(template, rule, BuildMatch(match), match.Uri));
                }
            }
        }

        return new RouteConfiguration { Name = name, VirtualHosts = { host } };
    }

    /// <summary>A rule's route without its match: its action (forward, redirect or direct response), fault and header changes.</summary>
    internal static Route BuildRuleTemplate(MeshSnapshot snapshot, HttpRouteRule rule, int listenerPort, string name)
    {
        var route = new Route { Name = name };
        if (rule.Redirect is { } redirect)
        {
            route.Redirect = RouteRuleActions.Redirect(redirect);
        }
        else if (rule.DirectResponse is { } direct)
        {
            route.DirectResponse = RouteRuleActions.DirectResponse(direct);
        }
        else
        {
            route.Route_ = BuildAction(snapshot, rule.Destinations, listenerPort, rule);
            foreach (var mirror in rule.Mirrors)
            {
                route.Route_.RequestMirrorPolicies.Add(new RouteAction.Types.RequestMirrorPolicy
                {
                    Cluster = ClusterFor(snapshot, mirror.Destination, listenerPort),
                    RuntimeFraction = new RuntimeFractionalPercent { DefaultValue = ToFraction(mirror.Percent) },
                });
            }
        }

        if (rule.Fault is not null)
        {
            route.TypedPerFilterConfig.Add(FaultFilterName, Any.Pack(BuildFault(rule.Fault)));
        }

        RouteRuleActions.Headers(route, rule.Headers);
        if (rule.Destinations.Length == 1)
        {
            // One destination: its header changes are the route's, as Istio merges them.
            RouteRuleActions.Headers(route, rule.Destinations[0].Headers);
        }

        return route;
    }

    internal static Route WithMatch(Route template, HttpRouteRule rule, RouteMatch match, StringCondition? uri)
    {
        var route = template.Clone();
        route.Match = match;
        if (rule.Rewrite is { } rewrite && route.Route_ is { } action)
        {
            RouteRuleActions.Rewrite(action, rewrite, uri);
        }

        return route;
    }

    internal static RouteMatch BuildMatch(RequestMatch match)
    {
        var result = new RouteMatch();
        switch (match.Uri)
        {
            case null:
                result.Prefix = "/";
                break;
            case { Kind: StringMatchKind.Exact } exact:
                result.Path = exact.Value;
                break;
            case { Kind: StringMatchKind.Prefix } prefix:
                result.Prefix = prefix.Value;
                break;
            case { Kind: StringMatchKind.Regex } regex:
                result.SafeRegex = new RegexMatcher { Regex = regex.Value };
                break;
        }

        if (match.IgnoreUriCase)
        {
            result.CaseSensitive = false;
        }

        foreach (var header in match.Headers)
        {
            var matcher = new HeaderMatcher { Name = header.Name, InvertMatch = header.Invert };
            if (header.Condition is null)
            {
                matcher.PresentMatch = true;
            }
            else
            {
                matcher.StringMatch = BuildStringMatcher(header.Condition);
            }

            result.Headers.Add(matcher);
        }

        return result;
    }

    private static StringMatcher BuildStringMatcher(StringCondition condition) => condition.Kind switch
    {
        StringMatchKind.Exact => new StringMatcher { Exact = condition.Value },
        StringMatchKind.Prefix => new StringMatcher { Prefix = condition.Value },
        _ => new StringMatcher { SafeRegex = new RegexMatcher { Regex = condition.Value } },
    };

    private static RouteAction BuildAction(MeshSnapshot snapshot, ImmutableArray<WeightedDestination> destinations, int listenerPort, HttpRouteRule? rule)
    {
        var action = new RouteAction
        {
            // Istio turns Envoy's default 15 s route timeout off unless the VirtualService sets one.
            Timeout = Duration.FromTimeSpan(rule?.Timeout ?? TimeSpan.Zero),
        };
        if (rule?.Timeout is { } timeout)
        {
            // gRPC clients read grpc_timeout_header_max, else max_stream_duration (gRFC A31); Istio sets both.
            action.MaxStreamDuration = new RouteAction.Types.MaxStreamDuration
            {
                MaxStreamDuration_ = Duration.FromTimeSpan(timeout),
                GrpcTimeoutHeaderMax = Duration.FromTimeSpan(timeout),
            };
        }

        if (destinations.Length == 1)
        {
            action.Cluster = ClusterFor(snapshot, destinations[0], listenerPort);
        }
        else
        {
            var weighted = new WeightedCluster();
            foreach (var destination in destinations)
            {
                if (destination.Weight > 0)
                {
                    var clusterWeight = new WeightedCluster.Types.ClusterWeight
                    {
                        Name = ClusterFor(snapshot, destination, listenerPort),
                        Weight = (uint)destination.Weight,
                    };
                    RouteRuleActions.Headers(clusterWeight, destination.Headers);
                    weighted.Clusters.Add(clusterWeight);
                }
            }

            action.WeightedClusters = weighted;
        }

        if (rule?.Retries is { Attempts: > 0 } retries)
        {
            action.RetryPolicy = BuildRetryPolicy(retries);
        }

        // Consistent hashing is a property of the destination in Istio and of the route in xDS.
        var first = destinations[0];
        var firstTraffic = TrafficFor(snapshot, first).ForPort(first.Port ?? listenerPort);
        if (firstTraffic.HashHeader is { } hashHeader)
        {
            action.HashPolicy.Add(new RouteAction.Types.HashPolicy
            {
                Header = new RouteAction.Types.HashPolicy.Types.Header { HeaderName = hashHeader },
            });
        }

        if (firstTraffic.HashCookie is { } cookie)
        {
            var hashCookie = new RouteAction.Types.HashPolicy.Types.Cookie { Name = cookie.Name };
            if (cookie.Path is { } path)
            {
                hashCookie.Path = path;
            }

            if (cookie.Ttl is { } ttl)
            {
                hashCookie.Ttl = Duration.FromTimeSpan(ttl);
            }

            action.HashPolicy.Add(new RouteAction.Types.HashPolicy { Cookie = hashCookie });
        }

        if (firstTraffic.HashSourceIp)
        {
            // The caller's address for proxies; gRPC clients (gRFC A42) hash on their channel instead, which is the
            // same caller-affinity for a proxyless client.
            action.HashPolicy.Add(new RouteAction.Types.HashPolicy
            {
                ConnectionProperties = new RouteAction.Types.HashPolicy.Types.ConnectionProperties { SourceIp = true },
            });
            action.HashPolicy.Add(new RouteAction.Types.HashPolicy
            {
                FilterState = new RouteAction.Types.HashPolicy.Types.FilterState { Key = ChannelIdFilterStateKey },
            });
        }

        if (firstTraffic.HashQueryParameter is { } parameter)
        {
            action.HashPolicy.Add(new RouteAction.Types.HashPolicy
            {
                QueryParameter = new RouteAction.Types.HashPolicy.Types.QueryParameter { Name = parameter },
            });
        }

        return action;
    }

    private static TrafficPolicy TrafficFor(MeshSnapshot snapshot, WeightedDestination destination)
    {
        if (!snapshot.Policies.TryGetValue(destination.Host, out var policy))
        {
            return TrafficPolicy.Default;
        }

        return destination.Subset is { } name && policy.FindSubset(name) is { } subset ? subset.Traffic : policy.Traffic;
    }

    private static string ClusterFor(MeshSnapshot snapshot, WeightedDestination destination, int listenerPort)
    {
        var port = destination.Port;
        if (port is null)
        {
            var service = snapshot.Services[destination.Host];
            port = service.FindPort(listenerPort) is not null || service.Ports.Length != 1 ? listenerPort : service.Ports[0].Number;
        }

        return XdsResourceNames.ClusterName(port.Value, destination.Subset, destination.Host);
    }

    private static RetryPolicy BuildRetryPolicy(Model.RetryPolicy retries)
    {
        // Attempts 0 means retries are off: no policy is sent, since gRPC clients reject num_retries 0 (gRFC A44).
        var policy = new RetryPolicy
        {
            RetryOn = retries.RetryOn,
            NumRetries = (uint)retries.Attempts,
            RetryBackOff = new RetryPolicy.Types.RetryBackOff
            {
                BaseInterval = Duration.FromTimeSpan(retries.BackoffBaseInterval),
                MaxInterval = Duration.FromTimeSpan(retries.BackoffMaxInterval),
            },
        };
        if (retries.PerTryTimeout is { } perTry)
        {
            policy.PerTryTimeout = Duration.FromTimeSpan(perTry);
        }

        foreach (var code in retries.RetriableStatusCodes)
        {
            policy.RetriableStatusCodes.Add((uint)code);
        }

        return policy;
    }

    private static HTTPFault BuildFault(FaultPolicy policy)
    {
        var fault = new HTTPFault();
        if (policy.Delay is { } delay)
        {
            fault.Delay = new CommonFault.FaultDelay { FixedDelay = Duration.FromTimeSpan(delay), Percentage = ToFraction(policy.DelayPercent) };
        }

        if (policy.AbortGrpcStatus is { } grpc)
        {
            fault.Abort = new FaultAbort { GrpcStatus = (uint)grpc, Percentage = ToFraction(policy.AbortPercent) };
        }
        else if (policy.AbortHttpStatus is { } http)
        {
            fault.Abort = new FaultAbort { HttpStatus = (uint)http, Percentage = ToFraction(policy.AbortPercent) };
        }

        return fault;
    }

    private static FractionalPercent ToFraction(double percent) => new()
    {
        Numerator = (uint)Math.Round(percent * 10_000),
        Denominator = FractionalPercent.Types.DenominatorType.Million,
    };

    private static void AddCluster(
        MeshSnapshot snapshot,
        ImmutableDictionary<string, XdsResource>.Builder clusters,
        ImmutableDictionary<string, XdsResource>.Builder endpoints,
        MeshService service,
        ServicePort port,
        SubsetPolicy? subset,
        TrafficPolicy traffic,
        ImmutableHashSet<(string TypeUrl, string Name)>.Builder clientSpecific)
    {
        var name = XdsResourceNames.ClusterName(port.Number, subset?.Name, service.Host);
        var assignment = BuildLoadAssignment(name, service, port, subset);
        var cluster = new Cluster
        {
            Name = name,
            ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(10)),
            LbPolicy = traffic.LoadBalancer switch
            {
                LoadBalancerKind.LeastRequest => Cluster.Types.LbPolicy.LeastRequest,
                LoadBalancerKind.RingHash => Cluster.Types.LbPolicy.RingHash,
                // gRPC clients accept only ROUND_ROBIN, LEAST_REQUEST and RING_HASH; round robin from a
                // randomly ordered list is what Istio gives proxyless clients for RANDOM too.
                _ => Cluster.Types.LbPolicy.RoundRobin,
            },
        };
        if (traffic.LoadBalancer == LoadBalancerKind.RingHash)
        {
            cluster.RingHashLbConfig = new Cluster.Types.RingHashLbConfig();
            if (traffic.MinimumRingSize is { } minimum)
            {
                cluster.RingHashLbConfig.MinimumRingSize = minimum;
            }
        }

        if (traffic.Warmup is { } warmup && traffic.LoadBalancer != LoadBalancerKind.RingHash)
        {
            // Slow start, as istiod sends it: in the round robin or least request settings (RANDOM is round robin here).
            var slowStart = BuildSlowStart(warmup, traffic);
            if (traffic.LoadBalancer == LoadBalancerKind.LeastRequest)
            {
                cluster.LeastRequestLbConfig = new Cluster.Types.LeastRequestLbConfig { SlowStartConfig = slowStart };
            }
            else
            {
                cluster.RoundRobinLbConfig = new Cluster.Types.RoundRobinLbConfig { SlowStartConfig = slowStart };
            }
        }

        if (traffic.MaxRequests is not null || traffic.MaxPendingRequests is not null || traffic.MaxRetries is not null)
        {
            cluster.CircuitBreakers = BuildCircuitBreakers(traffic);
        }

        if (traffic.Outlier is { } outlier)
        {
            cluster.OutlierDetection = BuildOutlierDetection(outlier);
        }

        if (OriginatedTls.Build(traffic.Tls) is { } originated)
        {
            // DestinationRule SIMPLE or MUTUAL: TLS from the rule's own certificates, never plaintext.
            cluster.TransportSocket = originated;
        }
        else if (SecurityTranslator.UpstreamTls(snapshot, service, port, subset, traffic) is { } tls)
        {
            cluster.TransportSocket = tls;
        }

        if (DnsClusters.Type(service, assignment) is { } dnsType)
        {
            // Names, not IP addresses: the client resolves them (gRFC A37), so the endpoints travel in the cluster and
            // there is no EDS resource, which gRPC clients would NACK for holding host names.
            cluster.Type = dnsType;
            cluster.LoadAssignment = assignment;
            clusters.Add(name, new XdsResource(name, cluster));
            return;
        }

        cluster.Type = Cluster.Types.DiscoveryType.Eds;
        cluster.EdsClusterConfig = new Cluster.Types.EdsClusterConfig { EdsConfig = Ads, ServiceName = name };
        clusters.Add(name, new XdsResource(name, cluster));
        endpoints.Add(name, new XdsResource(name, assignment));
        if (LocalityLoadBalancer.Applies(traffic, assignment))
        {
            clientSpecific.Add((XdsTypeUrls.ClusterLoadAssignment, name));
        }
    }

    private static Cluster.Types.SlowStartConfig BuildSlowStart(TimeSpan window, TrafficPolicy traffic)
    {
        var config = new Cluster.Types.SlowStartConfig { SlowStartWindow = Duration.FromTimeSpan(window) };
        if (traffic.WarmupMinimumPercent is { } minimum)
        {
            config.MinWeightPercent = new Percent { Value = minimum };
        }

        if (traffic.WarmupAggression is { } aggression)
        {
            config.Aggression = new RuntimeDouble { DefaultValue = aggression, RuntimeKey = "mesh.warmup.aggression" };
        }

        return config;
    }

    private static CircuitBreakers BuildCircuitBreakers(TrafficPolicy traffic)
    {
        // gRPC clients read max_requests of the DEFAULT priority (gRFC A32); the other limits are for Envoy.
        var thresholds = new CircuitBreakers.Types.Thresholds { Priority = RoutingPriority.Default };
        if (traffic.MaxRequests is { } maxRequests)
        {
            thresholds.MaxRequests = (uint)maxRequests;
        }

        if (traffic.MaxPendingRequests is { } maxPending)
        {
            thresholds.MaxPendingRequests = (uint)maxPending;
        }

        if (traffic.MaxRetries is { } maxRetries)
        {
            thresholds.MaxRetries = (uint)maxRetries;
        }

        return new CircuitBreakers { Thresholds = { thresholds } };
    }

    private static Envoy.Config.Cluster.V3.OutlierDetection BuildOutlierDetection(OutlierPolicy outlier)
    {
        var detection = new Envoy.Config.Cluster.V3.OutlierDetection
        {
            Consecutive5Xx = outlier.Consecutive5xxErrors,
            EnforcingConsecutive5Xx = outlier.Consecutive5xxErrors > 0 ? 100u : 0u,
            Interval = Duration.FromTimeSpan(outlier.Interval),
            BaseEjectionTime = Duration.FromTimeSpan(outlier.BaseEjectionTime),
            MaxEjectionTime = Duration.FromTimeSpan(outlier.MaxEjectionTime),
            MaxEjectionPercent = (uint)outlier.MaxEjectionPercent,

            // Istio never uses success-rate ejection. Unset, it defaults to on, and gRPC clients would run it (gRFC A50).
            EnforcingSuccessRate = 0,
        };
        if (outlier.ConsecutiveGatewayErrors is { } gateway)
        {
            detection.ConsecutiveGatewayFailure = gateway;
            detection.EnforcingConsecutiveGatewayFailure = gateway > 0 ? 100u : 0u;
        }

        return detection;
    }

    private static ClusterLoadAssignment BuildLoadAssignment(string name, MeshService service, ServicePort port, SubsetPolicy? subset)
    {
        var byLocality = new SortedDictionary<string, (ModelLocality Locality, List<ServiceEndpoint> Endpoints)>(StringComparer.Ordinal);
        foreach (var endpoint in service.Endpoints)
        {
            if (!endpoint.Ports.ContainsKey(port.Number) || (subset is not null && !endpoint.Matches(subset.Labels)))
            {
                continue;
            }

            var key = endpoint.Locality.ToString();
            if (!byLocality.TryGetValue(key, out var group))
            {
                group = (endpoint.Locality, []);
                byLocality.Add(key, group);
            }

            group.Endpoints.Add(endpoint);
        }

        var assignment = new ClusterLoadAssignment { ClusterName = name };
        foreach (var (_, (locality, members)) in byLocality)
        {
            members.Sort(static (a, b) => string.CompareOrdinal(a.Address, b.Address));
            var group = new LocalityLbEndpoints
            {
                Locality = new Envoy.Config.Core.V3.Locality { Region = locality.Region, Zone = locality.Zone, SubZone = locality.SubZone },
                Priority = 0,
            };
            uint weight = 0;
            foreach (var endpoint in members)
            {
                group.LbEndpoints.Add(new LbEndpoint
                {
                    Endpoint = new Endpoint
                    {
                        Address = new Address
                        {
                            SocketAddress = new SocketAddress { Address = endpoint.Address, PortValue = (uint)endpoint.Ports[port.Number] },
                        },
                    },
                    HealthStatus = endpoint.Health switch
                    {
                        EndpointHealth.Unhealthy => HealthStatus.Unhealthy,
                        EndpointHealth.Draining => HealthStatus.Draining,
                        _ => HealthStatus.Healthy,
                    },
                    LoadBalancingWeight = (uint)endpoint.Weight,
                });
                weight += (uint)endpoint.Weight;
            }

            group.LoadBalancingWeight = weight;
            assignment.Endpoints.Add(group);
        }

        return assignment;
    }
}
