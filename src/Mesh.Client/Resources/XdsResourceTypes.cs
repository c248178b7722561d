using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mesh.Client.Routing;
using Mesh.Client.Xds;
using Mesh.Xds;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.Client.Resources;

/// <summary>
/// The four resource types the client follows, with their decoding and validation (gRFC A27, A28). A resource that
/// fails validation is NACKed by the XdsClient with the message returned here, naming the field.
/// </summary>
internal static class XdsResourceTypes
{
    /// <summary>The HTTP filters this client knows (A39: unknown required filters are rejected).</summary>
    public static readonly ImmutableHashSet<string> KnownHttpFilters = [XdsTypeUrls.Router, XdsTypeUrls.HttpFault, XdsTypeUrls.Rbac];

    public static XdsResourceType ListenerType { get; } = new()
    {
        TypeUrl = XdsTypeUrls.Listener,
        AllResourcesRequiredInSotW = true,
        Decode = Decorate(XdsTypeUrls.Listener, any => DecodeListener(any.Unpack<Listener>())),
    };

    public static XdsResourceType RouteConfigurationType { get; } = new()
    {
        TypeUrl = XdsTypeUrls.RouteConfiguration,
        AllResourcesRequiredInSotW = false,
        Decode = Decorate(XdsTypeUrls.RouteConfiguration, any => DecodeRouteConfig(any.Unpack<RouteConfiguration>())),
    };

    public static XdsResourceType ClusterType { get; } = new()
    {
        TypeUrl = XdsTypeUrls.Cluster,
        AllResourcesRequiredInSotW = true,
        Decode = Decorate(XdsTypeUrls.Cluster, any => DecodeCluster(any.Unpack<Cluster>())),
    };

    public static XdsResourceType EndpointsType { get; } = new()
    {
        TypeUrl = XdsTypeUrls.ClusterLoadAssignment,
        AllResourcesRequiredInSotW = false,
        Decode = Decorate(XdsTypeUrls.ClusterLoadAssignment, any => DecodeEndpoints(any.Unpack<ClusterLoadAssignment>())),
    };

    private static Func<Any, XdsDecodeResult> Decorate(string typeUrl, Func<Any, XdsDecodeResult> decode) => any =>
    {
        if (any.TypeUrl != typeUrl)
        {
            return XdsDecodeResult.Failure(null, $"resource of type {any.TypeUrl} in a response for {typeUrl}");
        }

        try
        {
            return decode(any);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return XdsDecodeResult.Failure(null, "cannot be parsed: " + ex.Message);
        }
    };

    internal static XdsDecodeResult DecodeListener(Listener listener)
    {
        var name = listener.Name;
        if (listener.ApiListener?.ApiListener_ is not { } packed)
        {
            if (listener.Address is not null)
            {
                return DecodeServerListener(listener);
            }

            return Fail(name, "api_listener", "is required for a client-side listener (or address, for a server listener)");
        }

        if (!packed.Is(Hcm.HttpConnectionManager.Descriptor))
        {
            return Fail(name, "api_listener.api_listener", $"must be an HttpConnectionManager, not {packed.TypeUrl}");
        }

        var hcm = packed.Unpack<Hcm.HttpConnectionManager>();
        var filters = DecodeHttpFilters(hcm, out var filterField, out var filterError);
        if (filterError is not null)
        {
            return Fail(name, filterField!, filterError);
        }

        switch (hcm.RouteSpecifierCase)
        {
            case Hcm.HttpConnectionManager.RouteSpecifierOneofCase.Rds:
                if (hcm.Rds.ConfigSource is not { } source || (source.Ads is null && source.Self is null))
                {
                    return Fail(name, "rds.config_source", "must be ads or self");
                }

                if (string.IsNullOrEmpty(hcm.Rds.RouteConfigName))
                {
                    return Fail(name, "rds.route_config_name", "is required");
                }

                return XdsDecodeResult.Success(name, new ListenerResource(name, hcm.Rds.RouteConfigName, null, filters));
            case Hcm.HttpConnectionManager.RouteSpecifierOneofCase.RouteConfig:
                var inline = DecodeRouteConfig(hcm.RouteConfig);
                if (inline.Error is not null)
                {
                    return Fail(name, "route_config", inline.Error);
                }

                return XdsDecodeResult.Success(name, new ListenerResource(name, null, (RouteConfigResource)inline.Resource!, filters));
            default:
                return Fail(name, "route_specifier", "rds or route_config is required");
        }
    }

    private static ImmutableArray<HttpFilterResource> DecodeHttpFilters(Hcm.HttpConnectionManager hcm, out string? field, out string? error)
    {
        field = null;
        error = null;
        var filters = ImmutableArray.CreateBuilder<HttpFilterResource>();
        for (var i = 0; i < hcm.HttpFilters.Count; i++)
        {
            var filter = hcm.HttpFilters[i];
            var typeUrl = filter.TypedConfig?.TypeUrl ?? string.Empty;
            if (!KnownHttpFilters.Contains(typeUrl))
            {
                if (filter.IsOptional)
                {
                    continue;
                }

                field = $"http_filters[{i}]";
                error = $"filter '{filter.Name}' has unsupported config type '{typeUrl}' and is not optional";
                return [];
            }

            filters.Add(new HttpFilterResource(filter.Name, typeUrl, filter.TypedConfig!, filter.IsOptional));
        }

        field = "http_filters";
        if (filters.Count == 0 || filters[^1].TypeUrl != XdsTypeUrls.Router)
        {
            error = "the router filter must be present and last";
            return [];
        }

        for (var i = 0; i < filters.Count - 1; i++)
        {
            if (filters[i].TypeUrl == XdsTypeUrls.Router)
            {
                error = "the router filter must be the last one";
                return [];
            }
        }

        field = null;
        return filters.ToImmutable();
    }

    // A server listener (gRFC A36): an address and filter chains, each with at most one network filter, the HTTP
    // connection manager, and an optional DownstreamTlsContext. Matching is by transport protocol only (Mesh's
    // servers tell TLS from plaintext by the first byte); other match fields make a chain unusable, so a listener
    // that needs them is rejected rather than served differently from what the control plane meant.
    private static XdsDecodeResult DecodeServerListener(Listener listener)
    {
        var name = listener.Name;
        if (listener.Address.SocketAddress is not { } socket || socket.PortSpecifierCase != Envoy.Config.Core.V3.SocketAddress.PortSpecifierOneofCase.PortValue)
        {
            return Fail(name, "address.socket_address", "is required, with port_value");
        }

        var chains = ImmutableArray.CreateBuilder<FilterChainResource>(listener.FilterChains.Count);
        for (var i = 0; i < listener.FilterChains.Count; i++)
        {
            var chain = DecodeFilterChain(listener.FilterChains[i], $"filter_chains[{i}]", out var field, out var error);
            if (chain is null)
            {
                return Fail(name, field!, error!);
            }

            chains.Add(chain);
        }

        FilterChainResource? fallback = null;
        if (listener.DefaultFilterChain is { } defaultChain)
        {
            fallback = DecodeFilterChain(defaultChain, "default_filter_chain", out var field, out var error);
            if (fallback is null)
            {
                return Fail(name, field!, error!);
            }
        }

        if (chains.Count == 0 && fallback is null)
        {
            return Fail(name, "filter_chains", "a server listener needs at least one filter chain");
        }

        return XdsDecodeResult.Success(name, new ServerListenerResource(name, socket.Address, (int)socket.PortValue, chains.ToImmutable(), fallback));
    }

    private static FilterChainResource? DecodeFilterChain(FilterChain chain, string path, out string? field, out string? error)
    {
        field = null;
        error = null;
        var transport = string.Empty;
        if (chain.FilterChainMatch is { } match)
        {
            if (match.DestinationPort is not null || match.PrefixRanges.Count > 0 || match.SourcePrefixRanges.Count > 0 || match.SourcePorts.Count > 0
                || match.ServerNames.Count > 0 || match.ApplicationProtocols.Count > 0 || match.DirectSourcePrefixRanges.Count > 0
                || match.SourceType != FilterChainMatch.Types.ConnectionSourceType.Any)
            {
                field = path + ".filter_chain_match";
                error = "only transport_protocol is supported";
                return null;
            }

            transport = match.TransportProtocol;
            if (transport is not ("" or XdsSecurityNames.TlsTransportProtocol or XdsSecurityNames.RawBufferTransportProtocol))
            {
                field = path + ".filter_chain_match.transport_protocol";
                error = $"'{transport}' is not tls or raw_buffer";
                return null;
            }
        }

        if (chain.Filters.Count != 1 || chain.Filters[0].TypedConfig is not { } packed || !packed.Is(Hcm.HttpConnectionManager.Descriptor))
        {
            field = path + ".filters";
            error = "exactly one filter, the HTTP connection manager, is supported";
            return null;
        }

        var hcm = packed.Unpack<Hcm.HttpConnectionManager>();
        var filters = DecodeHttpFilters(hcm, out var filterField, out error);
        if (error is not null)
        {
            field = $"{path}.filters[0].{filterField}";
            return null;
        }

        DownstreamTlsResource? tls = null;
        if (chain.TransportSocket is { } socket)
        {
            if (socket.TypedConfig is not { } config || !config.Is(DownstreamTlsContext.Descriptor))
            {
                field = path + ".transport_socket";
                error = "must be a DownstreamTlsContext";
                return null;
            }

            var context = config.Unpack<DownstreamTlsContext>();
            tls = DecodeDownstreamTls(context, out var tlsField, out error);
            if (tls is null)
            {
                field = $"{path}.transport_socket.{tlsField}";
                return null;
            }
        }

        return new FilterChainResource(chain.Name, transport, tls, filters);
    }

    private static DownstreamTlsResource? DecodeDownstreamTls(DownstreamTlsContext context, out string? field, out string? error)
    {
        field = "common_tls_context";
        error = null;
        var common = context.CommonTlsContext;
        if (common?.TlsCertificateProviderInstance is not { } identity || identity.InstanceName.Length == 0)
        {
            error = "tls_certificate_provider_instance is required (certificates come from the bootstrap's certificate providers)";
            return null;
        }

        var validation = ValidationContextOf(common, out error);
        if (error is not null)
        {
            return null;
        }

        var require = context.RequireClientCertificate ?? false;
        if (require && validation?.CaCertificateProviderInstance is null)
        {
            error = "require_client_certificate needs a validation context with ca_certificate_provider_instance";
            return null;
        }

        var sans = CompileSans(validation, out error);
        return error is null
            ? new DownstreamTlsResource(identity.InstanceName, identity.CertificateName, validation?.CaCertificateProviderInstance?.InstanceName, validation?.CaCertificateProviderInstance?.CertificateName, require, sans)
            : null;
    }

    private static UpstreamTlsResource? DecodeUpstreamTls(UpstreamTlsContext context, out string? field, out string? error)
    {
        field = "transport_socket.common_tls_context";
        error = null;
        var common = context.CommonTlsContext;
        var validation = common is null ? null : ValidationContextOf(common, out error);
        if (error is not null)
        {
            return null;
        }

        if (validation?.CaCertificateProviderInstance is not { } roots || roots.InstanceName.Length == 0)
        {
            error = "a validation context with ca_certificate_provider_instance is required (gRFC A29)";
            return null;
        }

        var identity = common!.TlsCertificateProviderInstance;
        var sans = CompileSans(validation, out error);
        return error is null
            ? new UpstreamTlsResource(identity?.InstanceName ?? string.Empty, identity?.CertificateName ?? string.Empty, roots.InstanceName, roots.CertificateName, sans, context.Sni)
            : null;
    }

    private static CertificateValidationContext? ValidationContextOf(CommonTlsContext common, out string? error)
    {
        error = null;
        switch (common.ValidationContextTypeCase)
        {
            case CommonTlsContext.ValidationContextTypeOneofCase.ValidationContext:
                return common.ValidationContext;
            case CommonTlsContext.ValidationContextTypeOneofCase.CombinedValidationContext:
                return common.CombinedValidationContext.DefaultValidationContext;
            case CommonTlsContext.ValidationContextTypeOneofCase.None:
                return null;
            default:
                error = "validation contexts from SDS are not supported; use ca_certificate_provider_instance";
                return null;
        }
    }

    private static ImmutableArray<HeaderCondition> CompileSans(CertificateValidationContext? validation, out string? error)
    {
        error = null;
        if (validation is null || validation.MatchTypedSubjectAltNames.Count == 0)
        {
            return [];
        }

        var sans = ImmutableArray.CreateBuilder<HeaderCondition>(validation.MatchTypedSubjectAltNames.Count);
        foreach (var san in validation.MatchTypedSubjectAltNames)
        {
            if (san.SanType != SubjectAltNameMatcher.Types.SanType.Uri)
            {
                error = $"match_typed_subject_alt_names: only URI SANs (SPIFFE identities) are supported, not {san.SanType}";
                return [];
            }

            var compiled = CompileHeader(new HeaderMatcher { Name = "uri-san", StringMatch = san.Matcher ?? new StringMatcher() }, out error);
            if (compiled is null)
            {
                error = "match_typed_subject_alt_names: " + error;
                return [];
            }

            sans.Add(compiled);
        }

        return sans.ToImmutable();
    }

    internal static XdsDecodeResult DecodeRouteConfig(RouteConfiguration config)
    {
        var hosts = ImmutableArray.CreateBuilder<VirtualHostResource>(config.VirtualHosts.Count);
        for (var v = 0; v < config.VirtualHosts.Count; v++)
        {
            var vhost = config.VirtualHosts[v];
            var routes = ImmutableArray.CreateBuilder<RouteResource>(vhost.Routes.Count);
            for (var r = 0; r < vhost.Routes.Count; r++)
            {
                var route = vhost.Routes[r];
                var field = $"virtual_hosts[{v}].routes[{r}]";
                var match = CompileMatch(route.Match, out var matchError);
                if (matchError is not null)
                {
                    return Fail(config.Name, field + ".match", matchError);
                }

                if (match is null)
                {
                    continue; // A28: a route with a match type we do not know is skipped.
                }

                RouteActionResource? action = null;
                switch (route.ActionCase)
                {
                    case Route.ActionOneofCase.Route_:
                        action = DecodeAction(route.Route_, out var actionError);
                        if (actionError is not null)
                        {
                            return Fail(config.Name, field + ".route", actionError);
                        }

                        break;
                    case Route.ActionOneofCase.NonForwardingAction:
                        break; // calls matching it fail: a client has nowhere to forward them.
                    default:
                        break; // redirect and direct_response: calls matching it fail, as in gRPC.
                }

                routes.Add(new RouteResource(route.Name, match, action)
                {
                    FilterOverrides = route.TypedPerFilterConfig.Count == 0
                        ? ImmutableDictionary<string, Any>.Empty
                        : route.TypedPerFilterConfig.ToImmutableDictionary(p => p.Key, p => p.Value),
                });
            }

            hosts.Add(new VirtualHostResource(vhost.Name, [.. vhost.Domains], routes.ToImmutable())
            {
                FilterOverrides = vhost.TypedPerFilterConfig.Count == 0
                    ? ImmutableDictionary<string, Any>.Empty
                    : vhost.TypedPerFilterConfig.ToImmutableDictionary(p => p.Key, p => p.Value),
            });
        }

        return XdsDecodeResult.Success(config.Name, new RouteConfigResource(config.Name, hosts.ToImmutable()));
    }

    private static RouteActionResource? DecodeAction(RouteAction action, out string? error)
    {
        error = null;
        ImmutableArray<WeightedClusterResource> clusters;
        switch (action.ClusterSpecifierCase)
        {
            case RouteAction.ClusterSpecifierOneofCase.Cluster:
                if (string.IsNullOrEmpty(action.Cluster))
                {
                    error = "cluster is empty";
                    return null;
                }

                clusters = [new WeightedClusterResource(action.Cluster, 1)];
                break;
            case RouteAction.ClusterSpecifierOneofCase.WeightedClusters:
                var builder = ImmutableArray.CreateBuilder<WeightedClusterResource>();
                ulong total = 0;
                foreach (var weighted in action.WeightedClusters.Clusters)
                {
                    var weight = weighted.Weight ?? 0;
                    total += weight;
                    if (weight > 0)
                    {
                        builder.Add(new WeightedClusterResource(weighted.Name, weight));
                    }
                }

                if (total == 0 || total > uint.MaxValue)
                {
                    error = $"weighted_clusters: the weights sum to {total}; it must be between 1 and {uint.MaxValue}";
                    return null;
                }

                clusters = builder.ToImmutable();
                break;
            default:
                error = $"cluster specifier {action.ClusterSpecifierCase} is not supported";
                return null;
        }

        var hashHeaders = ImmutableArray.CreateBuilder<string>();
        foreach (var policy in action.HashPolicy)
        {
            if (policy.PolicySpecifierCase == RouteAction.Types.HashPolicy.PolicySpecifierOneofCase.Header)
            {
                hashHeaders.Add(policy.Header.HeaderName.ToLowerInvariant());
            }
        }

        TimeSpan? maxStreamDuration = action.MaxStreamDuration?.GrpcTimeoutHeaderMax?.ToTimeSpan() is { } headerMax && headerMax > TimeSpan.Zero
            ? headerMax
            : action.MaxStreamDuration?.MaxStreamDuration_?.ToTimeSpan();
        var retry = action.RetryPolicy is { } retryPolicy ? DecodeRetry(retryPolicy, out error) : null;
        if (error is not null)
        {
            return null;
        }

        return new RouteActionResource(clusters, hashHeaders.ToImmutable(), maxStreamDuration is { } d && d > TimeSpan.Zero ? d : null) { Retry = retry };
    }

    /// <summary>A44: retry_on names gRPC statuses; others (HTTP conditions) are ignored by gRPC clients.</summary>
    private static RetryPolicyResource? DecodeRetry(RetryPolicy policy, out string? error)
    {
        error = null;
        var codes = ImmutableHashSet.CreateBuilder<Grpc.Core.StatusCode>();
        var http = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var item in policy.RetryOn.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (item)
            {
                case "cancelled":
                    codes.Add(Grpc.Core.StatusCode.Cancelled);
                    break;
                case "deadline-exceeded":
                    codes.Add(Grpc.Core.StatusCode.DeadlineExceeded);
                    break;
                case "internal":
                    codes.Add(Grpc.Core.StatusCode.Internal);
                    break;
                case "resource-exhausted":
                    codes.Add(Grpc.Core.StatusCode.ResourceExhausted);
                    break;
                case "unavailable":
                    codes.Add(Grpc.Core.StatusCode.Unavailable);
                    break;
                case "5xx" or "gateway-error" or "connect-failure" or "reset" or "refused-stream":
                    http.Add(item);
                    break;
            }
        }

        var baseBackoff = policy.RetryBackOff?.BaseInterval?.ToTimeSpan() ?? TimeSpan.FromMilliseconds(25);
        if (baseBackoff <= TimeSpan.Zero)
        {
            error = "retry_policy.retry_back_off.base_interval must be greater than zero";
            return null;
        }

        var maxBackoff = policy.RetryBackOff?.MaxInterval?.ToTimeSpan() ?? baseBackoff * 10;
        if (maxBackoff < baseBackoff)
        {
            error = "retry_policy.retry_back_off.max_interval must not be below base_interval";
            return null;
        }

        if (codes.Count == 0 && http.Count == 0)
        {
            return null; // nothing this client retries on
        }

        var attempts = (int)Math.Min((policy.NumRetries ?? 1) + 1L, 5);
        var perTry = policy.PerTryTimeout?.ToTimeSpan();
        return new RetryPolicyResource(codes.ToImmutable(), attempts, perTry > TimeSpan.Zero ? perTry : null, baseBackoff, maxBackoff, http.ToImmutable());
    }

    private static RouteMatcher? CompileMatch(RouteMatch? match, out string? error)
    {
        error = null;
        if (match is null)
        {
            error = "is required";
            return null;
        }

        var caseSensitive = match.CaseSensitive ?? true;
        PathMatchKind kind;
        string path = string.Empty;
        Regex? regex = null;
        switch (match.PathSpecifierCase)
        {
            case RouteMatch.PathSpecifierOneofCase.Prefix:
                kind = PathMatchKind.Prefix;
                path = match.Prefix;
                break;
            case RouteMatch.PathSpecifierOneofCase.Path:
                kind = PathMatchKind.Exact;
                path = match.Path;
                break;
            case RouteMatch.PathSpecifierOneofCase.SafeRegex:
                kind = PathMatchKind.Regex;
                regex = CompileRegex(match.SafeRegex.Regex, !caseSensitive, out error);
                if (regex is null)
                {
                    return null;
                }

                break;
            default:
                return null;
        }

        var headers = new HeaderCondition[match.Headers.Count];
        for (var i = 0; i < headers.Length; i++)
        {
            headers[i] = CompileHeader(match.Headers[i], out error)!;
            if (error is not null)
            {
                error = $"headers[{i}]: {error}";
                return null;
            }
        }

        uint? fraction = null;
        if (match.RuntimeFraction?.DefaultValue is { } percent)
        {
            var perMillion = percent.Denominator switch
            {
                Envoy.Type.V3.FractionalPercent.Types.DenominatorType.Hundred => (ulong)percent.Numerator * 10_000,
                Envoy.Type.V3.FractionalPercent.Types.DenominatorType.TenThousand => (ulong)percent.Numerator * 100,
                _ => percent.Numerator,
            };
            fraction = (uint)Math.Min(perMillion, 1_000_000);
        }

        return new RouteMatcher { PathKind = kind, Path = path, PathRegex = regex, CaseSensitive = caseSensitive, Headers = headers, FractionPerMillion = fraction };
    }

    /// <summary>Compiles one header matcher (A28 semantics); also used by Mesh.Server's RBAC engine (A41).</summary>
    internal static HeaderCondition? CompileHeader(HeaderMatcher matcher, out string? error)
    {
        error = null;
        var name = matcher.Name.ToLowerInvariant();
        switch (matcher.HeaderMatchSpecifierCase)
        {
            case HeaderMatcher.HeaderMatchSpecifierOneofCase.StringMatch:
                var s = matcher.StringMatch;
                var ignoreCase = s.IgnoreCase;
                return s.MatchPatternCase switch
                {
                    StringMatcher.MatchPatternOneofCase.Exact => new HeaderCondition { Name = name, Kind = HeaderMatchKind.Exact, Value = s.Exact, IgnoreCase = ignoreCase, Invert = matcher.InvertMatch },
                    StringMatcher.MatchPatternOneofCase.Prefix => new HeaderCondition { Name = name, Kind = HeaderMatchKind.Prefix, Value = s.Prefix, IgnoreCase = ignoreCase, Invert = matcher.InvertMatch },
                    StringMatcher.MatchPatternOneofCase.Suffix => new HeaderCondition { Name = name, Kind = HeaderMatchKind.Suffix, Value = s.Suffix, IgnoreCase = ignoreCase, Invert = matcher.InvertMatch },
                    StringMatcher.MatchPatternOneofCase.Contains => new HeaderCondition { Name = name, Kind = HeaderMatchKind.Contains, Value = s.Contains, IgnoreCase = ignoreCase, Invert = matcher.InvertMatch },
                    StringMatcher.MatchPatternOneofCase.SafeRegex => CompileRegex(s.SafeRegex.Regex, false, out error) is { } r
                        ? new HeaderCondition { Name = name, Kind = HeaderMatchKind.Regex, Regex = r, Invert = matcher.InvertMatch }
                        : null,
                    _ => Invalid(out error, "string_match has no pattern"),
                };
            case HeaderMatcher.HeaderMatchSpecifierOneofCase.SafeRegexMatch:
                return CompileRegex(matcher.SafeRegexMatch.Regex, false, out error) is { } regex
                    ? new HeaderCondition { Name = name, Kind = HeaderMatchKind.Regex, Regex = regex, Invert = matcher.InvertMatch }
                    : null;
            case HeaderMatcher.HeaderMatchSpecifierOneofCase.PresentMatch:
                return new HeaderCondition { Name = name, Kind = HeaderMatchKind.Present, PresentValue = matcher.PresentMatch, Invert = matcher.InvertMatch };
            case HeaderMatcher.HeaderMatchSpecifierOneofCase.RangeMatch:
                if (matcher.RangeMatch.Start > matcher.RangeMatch.End)
                {
                    return Invalid(out error, "range_match start is after end");
                }

                return new HeaderCondition { Name = name, Kind = HeaderMatchKind.Range, RangeStart = matcher.RangeMatch.Start, RangeEnd = matcher.RangeMatch.End, Invert = matcher.InvertMatch };
            default:
                return Invalid(out error, "has no match specifier");
        }
    }

    private static HeaderCondition? Invalid(out string? error, string message)
    {
        error = message;
        return null;
    }

    private static Regex? CompileRegex(string pattern, bool ignoreCase, out string? error)
    {
        error = null;
        try
        {
            // Non-backtracking: linear time like RE2, so no pattern can stall a call.
            var options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None);
            return new Regex($"^(?:{pattern})$", options);
        }
        catch (ArgumentException ex)
        {
            error = $"invalid regex '{pattern}': {ex.Message}";
            return null;
        }
        catch (NotSupportedException ex)
        {
            error = $"unsupported regex '{pattern}': {ex.Message}";
            return null;
        }
    }

    internal static XdsDecodeResult DecodeCluster(Cluster cluster)
    {
        var name = cluster.Name;
        if (cluster.ClusterDiscoveryTypeCase != Cluster.ClusterDiscoveryTypeOneofCase.Type || cluster.Type != Cluster.Types.DiscoveryType.Eds)
        {
            return Fail(name, "type", "only EDS clusters are supported");
        }

        if (cluster.EdsClusterConfig?.EdsConfig is { } source && source.Ads is null && source.Self is null)
        {
            return Fail(name, "eds_cluster_config.eds_config", "must be ads or self");
        }

        var eds = string.IsNullOrEmpty(cluster.EdsClusterConfig?.ServiceName) ? name : cluster.EdsClusterConfig.ServiceName;
        LbPolicyKind policy;
        ulong minRing = 1024, maxRing = 8 * 1024 * 1024;
        uint choiceCount = 2;
        switch (cluster.LbPolicy)
        {
            case Cluster.Types.LbPolicy.RoundRobin:
                policy = LbPolicyKind.RoundRobin;
                break;
            case Cluster.Types.LbPolicy.LeastRequest:
                policy = LbPolicyKind.LeastRequest;
                if (cluster.LeastRequestLbConfig?.ChoiceCount is { } count)
                {
                    if (count < 2)
                    {
                        return Fail(name, "least_request_lb_config.choice_count", "must be at least 2");
                    }

                    choiceCount = count;
                }

                break;
            case Cluster.Types.LbPolicy.RingHash:
                policy = LbPolicyKind.RingHash;
                if (cluster.RingHashLbConfig is { } ring)
                {
                    minRing = ring.MinimumRingSize ?? minRing;
                    maxRing = ring.MaximumRingSize ?? maxRing;
                    if (ring.HashFunction != Cluster.Types.RingHashLbConfig.Types.HashFunction.XxHash)
                    {
                        return Fail(name, "ring_hash_lb_config.hash_function", "only XX_HASH is supported");
                    }
                }

                if (minRing == 0 || minRing > maxRing || maxRing > 8 * 1024 * 1024)
                {
                    return Fail(name, "ring_hash_lb_config", "need 0 < minimum_ring_size <= maximum_ring_size <= 8M");
                }

                break;
            default:
                return Fail(name, "lb_policy", $"{cluster.LbPolicy} is not supported (ROUND_ROBIN, LEAST_REQUEST, RING_HASH are)");
        }

        uint maxRequests = 1024;
        foreach (var threshold in cluster.CircuitBreakers?.Thresholds ?? [])
        {
            if (threshold.Priority == Envoy.Config.Core.V3.RoutingPriority.Default && threshold.MaxRequests is { } max)
            {
                maxRequests = max;
            }
        }

        var outlier = LoadBalancing.OutlierDetection.OutlierDetectionConfig.FromProto(cluster.OutlierDetection, out var outlierError);
        if (outlierError is not null)
        {
            return Fail(name, "outlier_detection", outlierError);
        }

        UpstreamTlsResource? tls = null;
        if (cluster.TransportSocket is { } socket)
        {
            if (socket.TypedConfig is not { } config || !config.Is(UpstreamTlsContext.Descriptor))
            {
                return Fail(name, "transport_socket", "must be an UpstreamTlsContext");
            }

            tls = DecodeUpstreamTls(config.Unpack<UpstreamTlsContext>(), out var tlsField, out var tlsError);
            if (tls is null)
            {
                return Fail(name, tlsField!, tlsError!);
            }
        }

        return XdsDecodeResult.Success(name, new ClusterResource(name, eds, policy, minRing, maxRing, choiceCount, maxRequests) { Outlier = outlier, Tls = tls });
    }

    internal static XdsDecodeResult DecodeEndpoints(ClusterLoadAssignment assignment)
    {
        var name = assignment.ClusterName;
        var localities = ImmutableArray.CreateBuilder<LocalityResource>();
        var priorities = new SortedSet<uint>();
        for (var l = 0; l < assignment.Endpoints.Count; l++)
        {
            var locality = assignment.Endpoints[l];
            var weight = locality.LoadBalancingWeight ?? 0;
            if (weight == 0)
            {
                continue; // A27: a locality without weight takes no traffic.
            }

            var endpoints = ImmutableArray.CreateBuilder<EndpointResource>();
            for (var e = 0; e < locality.LbEndpoints.Count; e++)
            {
                var lb = locality.LbEndpoints[e];
                if (lb.HealthStatus is not (Envoy.Config.Core.V3.HealthStatus.Unknown or Envoy.Config.Core.V3.HealthStatus.Healthy))
                {
                    continue;
                }

                if (lb.Endpoint?.Address?.SocketAddress is not { } socket || socket.PortSpecifierCase != Envoy.Config.Core.V3.SocketAddress.PortSpecifierOneofCase.PortValue)
                {
                    return Fail(name, $"endpoints[{l}].lb_endpoints[{e}].endpoint.address", "a socket address with port_value is required");
                }

                endpoints.Add(new EndpointResource(socket.Address, (int)socket.PortValue, Math.Max(1u, lb.LoadBalancingWeight ?? 1)));
            }

            priorities.Add(locality.Priority);
            var key = locality.Locality;
            localities.Add(new LocalityResource(key?.Region ?? string.Empty, key?.Zone ?? string.Empty, key?.SubZone ?? string.Empty, weight, locality.Priority, endpoints.ToImmutable()));
        }

        // A27: priorities must be contiguous from 0.
        uint expected = 0;
        foreach (var priority in priorities)
        {
            if (priority != expected++)
            {
                return Fail(name, "endpoints", $"priorities must be contiguous from 0; {expected - 1} is missing");
            }
        }

        return XdsDecodeResult.Success(name, new EndpointsResource(name, localities.ToImmutable()));
    }

    private static XdsDecodeResult Fail(string name, string field, string message) =>
        XdsDecodeResult.Failure(name, $"{field}: {message}");
}
