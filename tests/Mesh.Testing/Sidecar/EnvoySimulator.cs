using System.Net;
using System.Text.RegularExpressions;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Envoy.Type.Matcher.V3;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Route = Envoy.Config.Route.V3.Route;

namespace Mesh.Testing.Sidecar;

/// <summary>
/// Follows a call through an Envoy sidecar's configuration by Envoy's documented semantics, without Envoy:
/// the capture listener (15001 outbound, 15006 inbound) and the hand-off by original destination (exact address,
/// then 0.0.0.0 on the port, else the capture listener itself); filter chain selection in Envoy's order
/// (destination port, prefix ranges, server names, transport protocol, application protocols — at each stage the
/// chains that name the connection's value win, and chains that leave the field unset are considered only when none
/// does), where SNI and ALPN are visible only through tls_inspector; the chain's TLS requirement; then the HTTP
/// connection manager (RDS or inline route) → virtual host by domain (exact, longest suffix wildcard, longest
/// prefix wildcard, <c>*</c>) → first matching route → cluster → endpoints and the transport socket chosen for them,
/// or the TCP proxy's cluster.
/// </summary>
public sealed class EnvoySimulator(
    IReadOnlyCollection<Listener> listeners,
    IReadOnlyCollection<RouteConfiguration> routes,
    IReadOnlyCollection<Cluster> clusters,
    IReadOnlyCollection<ClusterLoadAssignment> assignments)
{
    private const string FaultFilter = "envoy.filters.http.fault";

    /// <summary>Runs <paramref name="call"/>.</summary>
    public SimulationResult Run(SimulatedCall call)
    {
        // A gateway binds its ports itself: the call reaches the listener of its port directly, with no capture.
        var capture = call.Direct
            ? listeners.FirstOrDefault(l => l.Address?.SocketAddress?.PortValue == (uint)call.Port)
            : listeners.FirstOrDefault(l => l.Address?.SocketAddress?.PortValue == (call.Inbound ? 15006u : 15001u));
        if (capture is null)
        {
            return new SimulationResult { Outcome = SimulationOutcome.NoListener };
        }

        var listener = capture;
        if (!call.Inbound && capture.UseOriginalDst == true)
        {
            listener = listeners.FirstOrDefault(l => l.Address?.SocketAddress?.Address == call.DestinationIp && l.Address.SocketAddress.PortValue == call.Port)
                ?? listeners.FirstOrDefault(l => l.Address?.SocketAddress?.Address == "0.0.0.0" && l.Address.SocketAddress.PortValue == call.Port)
                ?? capture;
        }

        var inspectors = listener.ListenerFilters.Select(static f => f.Name).ToHashSet(StringComparer.Ordinal);
        var tlsInspector = inspectors.Contains("envoy.filters.listener.tls_inspector");
        var transport = tlsInspector && call.Tls ? "tls" : "raw_buffer";
        var alpn = tlsInspector && call.Tls ? call.Alpn : [];
        var sni = tlsInspector && call.Tls ? call.Sni : null;

        var candidates = listener.FilterChains.ToList();
        candidates = Stage(candidates, c => c.FilterChainMatch?.DestinationPort is null, c => c.FilterChainMatch.DestinationPort == (uint)call.Port);
        candidates = PrefixStage(candidates, call.DestinationIp);
        candidates = Stage(candidates, c => (c.FilterChainMatch?.ServerNames.Count ?? 0) == 0, c => sni is not null && c.FilterChainMatch.ServerNames.Any(n => ServerNameMatches(n, sni)));
        candidates = Stage(candidates, c => string.IsNullOrEmpty(c.FilterChainMatch?.TransportProtocol), c => c.FilterChainMatch.TransportProtocol == transport);
        candidates = Stage(candidates, c => (c.FilterChainMatch?.ApplicationProtocols.Count ?? 0) == 0, c => c.FilterChainMatch.ApplicationProtocols.Any(alpn.Contains));

        FilterChain chain;
        if (candidates.Count == 0)
        {
            if (listener.DefaultFilterChain is null)
            {
                return new SimulationResult { Outcome = SimulationOutcome.NoFilterChain, Listener = listener.Name };
            }

            chain = listener.DefaultFilterChain;
        }
        else if (candidates.Count > 1)
        {
            return new SimulationResult { Outcome = SimulationOutcome.MultipleFilterChains, Listener = listener.Name };
        }
        else
        {
            chain = candidates[0];
        }

        var result = new SimulationResult { Outcome = SimulationOutcome.Routed, Listener = listener.Name, FilterChain = chain.Name };
        var terminatesTls = chain.TransportSocket?.TypedConfig?.TryUnpack<DownstreamTlsContext>(out var downstream) == true ? downstream : null;
        if (terminatesTls is not null)
        {
            if (!call.Tls)
            {
                return result with { Outcome = SimulationOutcome.TlsMismatch };
            }

            if (terminatesTls.RequireClientCertificate == true && !call.ClientCertificate)
            {
                return result with { Outcome = SimulationOutcome.MtlsRequired };
            }

            result = result with { TerminatedMtls = terminatesTls.RequireClientCertificate == true };
        }

        foreach (var filter in chain.Filters)
        {
            if (filter.TypedConfig.TryUnpack<Hcm.HttpConnectionManager>(out var hcm))
            {
                if (call.Tls && terminatesTls is null)
                {
                    return result with { Outcome = SimulationOutcome.TlsMismatch };
                }

                return RouteHttp(call, hcm, result);
            }

            if (filter.TypedConfig.TryUnpack<TcpProxy>(out var tcp))
            {
                return ToCluster(result with { Clusters = [(tcp.Cluster, 1u)] }, tcp.Cluster);
            }
        }

        return result with { Outcome = SimulationOutcome.NoRoute };
    }

    private SimulationResult RouteHttp(SimulatedCall call, Hcm.HttpConnectionManager hcm, SimulationResult result)
    {
        var config = hcm.Rds is not null ? routes.FirstOrDefault(r => r.Name == hcm.Rds.RouteConfigName) : hcm.RouteConfig;
        result = result with { HttpFilters = [.. hcm.HttpFilters.Select(static f => f.Name)], RouteConfiguration = hcm.Rds?.RouteConfigName ?? hcm.RouteConfig?.Name };
        if (config is null)
        {
            return result with { Outcome = SimulationOutcome.NoVirtualHost };
        }

        var host = (call.Host ?? string.Empty).ToLowerInvariant();
        if (config.IgnorePortInHostMatching && host.LastIndexOf(':') is var colon and > 0 && !host.EndsWith(']'))
        {
            host = host[..colon];
        }

        var virtualHost = FindVirtualHost(config, host);
        if (virtualHost is null)
        {
            return result with { Outcome = SimulationOutcome.NoVirtualHost };
        }

        result = result with { VirtualHost = virtualHost.Name };
        var route = virtualHost.Routes.FirstOrDefault(r => Matches(r.Match, call));
        if (route is null)
        {
            return result with { Outcome = SimulationOutcome.NoRoute };
        }

        result = result with { Route = route.Name, Fault = route.TypedPerFilterConfig.ContainsKey(FaultFilter) };
        if (route.DirectResponse is not null)
        {
            return result with { Outcome = SimulationOutcome.DirectResponse, DirectResponseStatus = route.DirectResponse.Status };
        }

        if (route.Route_ is null)
        {
            return result with { Outcome = SimulationOutcome.NoRoute };
        }

        if (route.Route_.WeightedClusters is { } weighted)
        {
            var split = weighted.Clusters.Select(static c => (c.Name, c.Weight ?? 0u)).ToList();
            foreach (var (name, _) in split)
            {
                if (!clusters.Any(c => c.Name == name))
                {
                    return result with { Outcome = SimulationOutcome.UnknownCluster, Cluster = name, Clusters = split };
                }
            }

            return ToCluster(result with { Clusters = split }, split.OrderByDescending(static s => s.Item2).First().Name);
        }

        return ToCluster(result with { Clusters = [(route.Route_.Cluster, 1u)] }, route.Route_.Cluster);
    }

    private SimulationResult ToCluster(SimulationResult result, string name)
    {
        var cluster = clusters.FirstOrDefault(c => c.Name == name);
        if (cluster is null)
        {
            return result with { Outcome = SimulationOutcome.UnknownCluster, Cluster = name };
        }

        result = result with { Cluster = name };
        if (cluster.Type != Cluster.Types.DiscoveryType.Eds)
        {
            return result;
        }

        var serviceName = string.IsNullOrEmpty(cluster.EdsClusterConfig?.ServiceName) ? name : cluster.EdsClusterConfig.ServiceName;
        var endpoints = assignments.FirstOrDefault(a => a.ClusterName == serviceName)?.Endpoints.SelectMany(static g => g.LbEndpoints).ToList() ?? [];
        result = result with
        {
            Endpoints = [.. endpoints.Select(static e => $"{e.Endpoint.Address.SocketAddress.Address}:{e.Endpoint.Address.SocketAddress.PortValue}")],
        };
        var socket = cluster.TransportSocket;
        if (cluster.TransportSocketMatches.Count > 0 && endpoints.Count > 0)
        {
            var metadata = endpoints[0].Metadata?.FilterMetadata.TryGetValue("envoy.transport_socket_match", out var m) == true ? m : null;
            var match = cluster.TransportSocketMatches.FirstOrDefault(t =>
                t.Match is null || t.Match.Fields.All(f => metadata?.Fields.TryGetValue(f.Key, out var v) == true && v.Equals(f.Value)));
            socket = match?.TransportSocket ?? cluster.TransportSocket;
        }

        if (socket?.TypedConfig?.TryUnpack<UpstreamTlsContext>(out var upstream) == true)
        {
            result = result with { UpstreamSni = upstream.Sni };
        }

        return result;
    }

    private static VirtualHost? FindVirtualHost(RouteConfiguration config, string host)
    {
        VirtualHost? best = null;
        var bestRank = int.MaxValue;
        var bestLength = -1;
        foreach (var virtualHost in config.VirtualHosts)
        {
            foreach (var raw in virtualHost.Domains)
            {
                var domain = raw.ToLowerInvariant();
                int rank;
                if (domain == host)
                {
                    rank = 0;
                }
                else if (domain == "*")
                {
                    rank = 3;
                }
                else if (domain.StartsWith('*') && host.EndsWith(domain[1..], StringComparison.Ordinal) && host.Length > domain.Length - 1)
                {
                    rank = 1;
                }
                else if (domain.EndsWith('*') && host.StartsWith(domain[..^1], StringComparison.Ordinal) && host.Length > domain.Length - 1)
                {
                    rank = 2;
                }
                else
                {
                    continue;
                }

                if (rank < bestRank || (rank == bestRank && domain.Length > bestLength))
                {
                    best = virtualHost;
                    bestRank = rank;
                    bestLength = domain.Length;
                }
            }
        }

        return best;
    }

    private static bool Matches(RouteMatch match, SimulatedCall call)
    {
        var ignoreCase = match.CaseSensitive == false;
        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var path = call.Path.Split('?')[0];
        var pathOk = match.PathSpecifierCase switch
        {
            RouteMatch.PathSpecifierOneofCase.Prefix => path.StartsWith(match.Prefix, comparison),
            RouteMatch.PathSpecifierOneofCase.Path => string.Equals(path, match.Path, comparison),
            RouteMatch.PathSpecifierOneofCase.SafeRegex => Regex.IsMatch(path, "^(?:" + match.SafeRegex.Regex + ")$"),
            _ => false,
        };
        if (!pathOk)
        {
            return false;
        }

        foreach (var header in match.Headers)
        {
            var present = call.Headers.TryGetValue(header.Name.ToLowerInvariant(), out var value);
            bool ok;
            if (header.HeaderMatchSpecifierCase == HeaderMatcher.HeaderMatchSpecifierOneofCase.PresentMatch)
            {
                ok = present == header.PresentMatch;
            }
            else if (!present)
            {
                ok = false;
            }
            else if (header.StringMatch is { } stringMatch)
            {
                ok = StringMatches(stringMatch, value!);
            }
            else if (header.SafeRegexMatch is { } regex)
            {
                ok = Regex.IsMatch(value!, "^(?:" + regex.Regex + ")$");
            }
            else
            {
                ok = true;
            }

            if (ok == header.InvertMatch)
            {
                return false;
            }
        }

        return true;
    }

    private static bool StringMatches(StringMatcher matcher, string value)
    {
        var comparison = matcher.IgnoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return matcher.MatchPatternCase switch
        {
            StringMatcher.MatchPatternOneofCase.Exact => string.Equals(value, matcher.Exact, comparison),
            StringMatcher.MatchPatternOneofCase.Prefix => value.StartsWith(matcher.Prefix, comparison),
            StringMatcher.MatchPatternOneofCase.Suffix => value.EndsWith(matcher.Suffix, comparison),
            StringMatcher.MatchPatternOneofCase.Contains => value.Contains(matcher.Contains, comparison),
            StringMatcher.MatchPatternOneofCase.SafeRegex => Regex.IsMatch(value, "^(?:" + matcher.SafeRegex.Regex + ")$"),
            _ => false,
        };
    }

    private static List<FilterChain> Stage(List<FilterChain> candidates, Func<FilterChain, bool> unset, Func<FilterChain, bool> matches)
    {
        var specific = candidates.Where(c => !unset(c) && matches(c)).ToList();
        return specific.Count > 0 ? specific : candidates.Where(unset).ToList();
    }

    private static List<FilterChain> PrefixStage(List<FilterChain> candidates, string destination)
    {
        if (!IPAddress.TryParse(destination, out var ip))
        {
            return candidates.Where(static c => (c.FilterChainMatch?.PrefixRanges.Count ?? 0) == 0).ToList();
        }

        var best = -1;
        var specific = new List<FilterChain>();
        foreach (var chain in candidates)
        {
            foreach (var range in chain.FilterChainMatch?.PrefixRanges ?? [])
            {
                var length = (int)(range.PrefixLen ?? 0);
                if (IPNetwork.TryParse($"{range.AddressPrefix}/{length}", out var network) && network.Contains(ip))
                {
                    if (length > best)
                    {
                        best = length;
                        specific.Clear();
                    }

                    if (length == best && !specific.Contains(chain))
                    {
                        specific.Add(chain);
                    }
                }
            }
        }

        return specific.Count > 0 ? specific : candidates.Where(static c => (c.FilterChainMatch?.PrefixRanges.Count ?? 0) == 0).ToList();
    }

    private static bool ServerNameMatches(string pattern, string sni) =>
        pattern.StartsWith("*.", StringComparison.Ordinal) ? sni.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase) : string.Equals(pattern, sni, StringComparison.OrdinalIgnoreCase);
}
