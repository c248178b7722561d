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
internal static partial class XdsResourceTypes
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
        catch (InvalidOperationException ex) when (ex.Source == ProtobufAssembly)
        {
            // Google.Protobuf throws this, not InvalidProtocolBufferException, for some malformed wrapper fields
            // (an end-group tag inside a UInt32Value / BoolValue: "SkipLastField cannot be called at the end of a
            // stream"); found by fuzzing (docs/fuzzing.md).
            return XdsDecodeResult.Failure(null, "cannot be parsed: " + ex.Message);
        }
    };

    private static readonly string ProtobufAssembly = typeof(IMessage).Assembly.GetName().Name!;

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
        var filters = DecodeHttpFilters(hcm, server: false, out var filterField, out var filterError);
        if (filterError is not null)
        {
            return Fail(name, filterField!, filterError);
        }

        if (!TryDecodeTracing(hcm, out var sampling))
        {
            return Fail(name, "api_listener.api_listener.tracing", "random_sampling and overall_sampling are percentages from 0 to 100");
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

                var gateway = DecodeGatewayListener(listener, hcm, out var gatewayField, out var gatewayError);
                if (gatewayError is not null)
                {
                    return Fail(name, gatewayField!, gatewayError);
                }

                return XdsDecodeResult.Success(name, new ListenerResource(name, hcm.Rds.RouteConfigName, null, filters) { RandomSampling = sampling, Gateway = gateway });
            case Hcm.HttpConnectionManager.RouteSpecifierOneofCase.RouteConfig:
                var inline = DecodeRouteConfig(hcm.RouteConfig);
                if (inline.Error is not null)
                {
                    return Fail(name, "route_config", inline.Error);
                }

                return XdsDecodeResult.Success(name, new ListenerResource(name, null, (RouteConfigResource)inline.Resource!, filters) { RandomSampling = sampling });
            default:
                return Fail(name, "route_specifier", "rds or route_config is required");
        }
    }

    // A gateway's listener (Mesh's control plane, to a workload its Gateways select): an API listener that also has
    // the address and the one filter chain an Envoy gateway gets, whose TLS names its certificates by SDS secret or
    // certificate provider instance. Only the port, the codec and the TLS are read; the API listener's connection
    // manager is what routes.
    private static GatewayListenerResource? DecodeGatewayListener(Listener listener, Hcm.HttpConnectionManager hcm, out string? field, out string? error)
    {
        field = null;
        error = null;
        if (listener.Address?.SocketAddress is not { } socket || listener.FilterChains.Count == 0)
        {
            return null;
        }

        if (socket.PortSpecifierCase != Envoy.Config.Core.V3.SocketAddress.PortSpecifierOneofCase.PortValue || socket.PortValue is 0 or > 65535)
        {
            field = "address.socket_address.port_value";
            error = "a gateway listener needs a port from 1 to 65535";
            return null;
        }

        if (listener.FilterChains.Count > 1)
        {
            field = "filter_chains";
            error = "a gateway listener has one filter chain";
            return null;
        }

        var http2Only = hcm.CodecType == Hcm.HttpConnectionManager.Types.CodecType.Http2;
        if (listener.FilterChains[0].TransportSocket is not { } transport)
        {
            return new GatewayListenerResource((int)socket.PortValue, http2Only, null);
        }

        field = "filter_chains[0].transport_socket";
        if (transport.TypedConfig is not { } packed || !packed.Is(DownstreamTlsContext.Descriptor))
        {
            error = "must be a DownstreamTlsContext";
            return null;
        }

        var context = packed.Unpack<DownstreamTlsContext>();
        var common = context.CommonTlsContext;
        var certificate = common?.TlsCertificateProviderInstance?.InstanceName is { Length: > 0 } instance ? instance
            : common?.TlsCertificateSdsSecretConfigs.Count == 1 ? common.TlsCertificateSdsSecretConfigs[0].Name : null;
        if (string.IsNullOrEmpty(certificate))
        {
            error = "common_tls_context needs one certificate (tls_certificate_provider_instance or tls_certificate_sds_secret_configs)";
            return null;
        }

        var root = common!.ValidationContextSdsSecretConfig?.Name is { Length: > 0 } sds ? sds
            : common.ValidationContext?.CaCertificateProviderInstance?.InstanceName is { Length: > 0 } provider ? provider : null;
        var require = context.RequireClientCertificate ?? false;
        if (require && root is null)
        {
            error = "require_client_certificate needs CA certificates (validation_context_sds_secret_config or ca_certificate_provider_instance)";
            return null;
        }

        field = null;
        return new GatewayListenerResource((int)socket.PortValue, http2Only, new GatewayTlsResource(certificate, root, require));
    }

    private static ImmutableArray<HttpFilterResource> DecodeHttpFilters(Hcm.HttpConnectionManager hcm, bool server, out string? field, out string? error)
    {
        field = "http_filters";
        error = null;
        var filters = ImmutableArray.CreateBuilder<HttpFilterResource>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < hcm.HttpFilters.Count; i++)
        {
            var filter = hcm.HttpFilters[i];
            field = $"http_filters[{i}]";
            if (string.IsNullOrEmpty(filter.Name))
            {
                error = "name is required";
                return [];
            }

            if (!names.Add(filter.Name))
            {
                error = $"filter name '{filter.Name}' appears more than once";
                return [];
            }

            if (filter.TypedConfig is not { } config)
            {
                error = $"filter '{filter.Name}' has no typed_config";
                return [];
            }

            var typeUrl = config.TypeUrl;
            if (!KnownHttpFilters.Contains(typeUrl))
            {
                if (filter.IsOptional)
                {
                    continue; // A39: an optional filter this client does not know is skipped.
                }

                error = $"filter '{filter.Name}' has unsupported config type '{typeUrl}' and is not optional";
                return [];
            }

            // A39/A41: fault injection is a client filter, RBAC a server filter; on the other side a required one
            // is an error and an optional one is skipped.
            var wrongSide = server ? typeUrl == XdsTypeUrls.HttpFault : typeUrl == XdsTypeUrls.Rbac;
            if (wrongSide)
            {
                if (filter.IsOptional)
                {
                    continue;
                }

                error = $"filter '{filter.Name}' ({typeUrl}) is not supported on {(server ? "servers" : "clients")} and is not optional";
                return [];
            }

            if (ParseFilterConfig(config, out var parseError) is null)
            {
                error = $"filter '{filter.Name}': {parseError}";
                return [];
            }

            filters.Add(new HttpFilterResource(filter.Name, typeUrl, config, filter.IsOptional));
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

    /// <summary>Parses a known filter's config (a top-level filter's or an override's); null with an error when it is malformed.</summary>
    private static IMessage? ParseFilterConfig(Any config, out string? error)
    {
        error = null;
        try
        {
            return config.TypeUrl switch
            {
                XdsTypeUrls.Router => config.Unpack<Envoy.Extensions.Filters.Http.Router.V3.Router>(),
                XdsTypeUrls.HttpFault => config.Unpack<Envoy.Extensions.Filters.Http.Fault.V3.HTTPFault>(),
                XdsTypeUrls.Rbac => config.Unpack<Envoy.Extensions.Filters.Http.Rbac.V3.RBAC>(),
                XdsTypeUrls.RbacPerRoute => config.Unpack<Envoy.Extensions.Filters.Http.Rbac.V3.RBACPerRoute>(),
                _ => Unknown(out error, config.TypeUrl),
            };
        }
        catch (InvalidProtocolBufferException ex)
        {
            error = "config cannot be parsed: " + ex.Message;
            return null;
        }

        static IMessage? Unknown(out string? error, string typeUrl)
        {
            error = $"unsupported config type '{typeUrl}'";
            return null;
        }
    }

    /// <summary>
    /// Validates typed_per_filter_config (gRFC A39): each entry, unwrapped from an <c>envoy.config.route.v3.FilterConfig</c>,
    /// must be an override this client knows (fault, RBACPerRoute) and parse; an unknown one is skipped when the
    /// wrapper marks it optional and rejected otherwise; the router takes no override.
    /// </summary>
    private static ImmutableDictionary<string, Any>? DecodeFilterOverrides(Google.Protobuf.Collections.MapField<string, Any> overrides, string path, out string? field, out string? error)
    {
        field = null;
        error = null;
        if (overrides.Count == 0)
        {
            return ImmutableDictionary<string, Any>.Empty;
        }

        var result = ImmutableDictionary.CreateBuilder<string, Any>(StringComparer.Ordinal);
        foreach (var (filterName, raw) in overrides.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            field = $"{path}.typed_per_filter_config['{filterName}']";
            var config = raw;
            var optional = false;
            if (raw.Is(FilterConfig.Descriptor))
            {
                FilterConfig wrapper;
                try
                {
                    wrapper = raw.Unpack<FilterConfig>();
                }
                catch (InvalidProtocolBufferException ex)
                {
                    error = "cannot be parsed: " + ex.Message;
                    return null;
                }

                optional = wrapper.IsOptional;
                if (wrapper.Config is not { } inner)
                {
                    if (optional)
                    {
                        continue;
                    }

                    error = "FilterConfig.config is required";
                    return null;
                }

                config = inner;
            }

            if (config.TypeUrl == XdsTypeUrls.Router)
            {
                error = "the router filter takes no per-route override";
                return null;
            }

            if (config.TypeUrl is not (XdsTypeUrls.HttpFault or XdsTypeUrls.RbacPerRoute))
            {
                if (optional)
                {
                    continue;
                }

                error = $"unsupported override type '{config.TypeUrl}' and not marked optional";
                return null;
            }

            if (ParseFilterConfig(config, out error) is null)
            {
                return null;
            }

            result[filterName] = config;
        }

        field = null;
        return result.ToImmutable();
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
        var transports = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < listener.FilterChains.Count; i++)
        {
            var chain = DecodeFilterChain(listener.FilterChains[i], $"filter_chains[{i}]", out var field, out var error);
            if (chain is null)
            {
                return Fail(name, field!, error!);
            }

            // A36: two chains that match the same connections are an error.
            if (!transports.Add(chain.TransportProtocol))
            {
                return Fail(name, $"filter_chains[{i}].filter_chain_match", $"overlaps an earlier chain (transport_protocol '{chain.TransportProtocol}')");
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
        var filters = DecodeHttpFilters(hcm, server: true, out var filterField, out error);
        if (error is not null)
        {
            field = $"{path}.filters[0].{filterField}";
            return null;
        }

        if (!TryDecodeTracing(hcm, out var sampling))
        {
            field = path + ".filters[0].tracing";
            error = "random_sampling and overall_sampling are percentages from 0 to 100";
            return null;
        }

        // A36: the connection manager names its routes like a client's: rds over ads/self, or inline and valid.
        switch (hcm.RouteSpecifierCase)
        {
            case Hcm.HttpConnectionManager.RouteSpecifierOneofCase.Rds:
                if (hcm.Rds.ConfigSource is not { } source || (source.Ads is null && source.Self is null) || string.IsNullOrEmpty(hcm.Rds.RouteConfigName))
                {
                    field = path + ".filters[0].rds";
                    error = "config_source must be ads or self, with a route_config_name";
                    return null;
                }

                break;
            case Hcm.HttpConnectionManager.RouteSpecifierOneofCase.RouteConfig:
                if (DecodeRouteConfig(hcm.RouteConfig).Error is { } routeError)
                {
                    field = path + ".filters[0].route_config";
                    error = routeError;
                    return null;
                }

                break;
            default:
                field = path + ".filters[0].route_specifier";
                error = "rds or route_config is required";
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

        return new FilterChainResource(chain.Name, transport, tls, filters) { RandomSampling = sampling };
    }

    // The connection manager's tracing: the share of requests traced at random (Envoy: random_sampling, capped by
    // overall_sampling; each 100 % when unset). No tracing message: null, the application's sampler decides alone.
    private static bool TryDecodeTracing(Hcm.HttpConnectionManager hcm, out double? sampling)
    {
        sampling = null;
        if (hcm.Tracing is not { } tracing)
        {
            return true;
        }

        var random = tracing.RandomSampling?.Value ?? 100;
        var overall = tracing.OverallSampling?.Value ?? 100;
        if (random is < 0 or > 100 || overall is < 0 or > 100 || double.IsNaN(random) || double.IsNaN(overall))
        {
            return false;
        }

        sampling = Math.Min(random, overall);
        return true;
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
            var hostField = $"virtual_hosts[{v}]";

            // A44: a route without its own retry policy takes its virtual host's.
            RetryPolicyResource? hostRetry = null;
            if (vhost.RetryPolicy is { } hostRetryPolicy)
            {
                hostRetry = DecodeRetry(hostRetryPolicy, out var hostRetryError);
                if (hostRetryError is not null)
                {
                    return Fail(config.Name, hostField + "." + hostRetryError.Field, hostRetryError.Message);
                }
            }

            var hostOverrides = DecodeFilterOverrides(vhost.TypedPerFilterConfig, hostField, out var hostOverrideField, out var hostOverrideError);
            if (hostOverrides is null)
            {
                return Fail(config.Name, hostOverrideField!, hostOverrideError!);
            }

            var routes = ImmutableArray.CreateBuilder<RouteResource>(vhost.Routes.Count);
            for (var r = 0; r < vhost.Routes.Count; r++)
            {
                var route = vhost.Routes[r];
                var field = $"{hostField}.routes[{r}]";
                if (route.Match is { } routeMatch)
                {
                    if (routeMatch.PathSpecifierCase == RouteMatch.PathSpecifierOneofCase.None)
                    {
                        return Fail(config.Name, field + ".match", "has no path specifier");
                    }

                    if (routeMatch.QueryParameters.Count > 0)
                    {
                        continue; // A28: a route with query parameter matchers is ignored.
                    }
                }

                var match = CompileMatch(route.Match, out var matchError);
                if (matchError is not null)
                {
                    return Fail(config.Name, field + ".match", matchError);
                }

                if (match is null)
                {
                    continue; // A28: a route with a path match type we do not know is skipped.
                }

                RouteActionResource? action = null;
                switch (route.ActionCase)
                {
                    case Route.ActionOneofCase.Route_:
                        action = DecodeAction(route.Route_, out var actionError);
                        if (actionError is not null)
                        {
                            return Fail(config.Name, $"{field}.route.{actionError.Field}", actionError.Message);
                        }

                        if (action is null)
                        {
                            continue; // A28: an unsupported cluster specifier makes the route ignored.
                        }

                        if (action.Retry is null && route.Route_.RetryPolicy is null && hostRetry is not null)
                        {
                            action = action with { Retry = hostRetry };
                        }

                        break;
                    case Route.ActionOneofCase.NonForwardingAction:
                        break; // calls matching it fail: a client has nowhere to forward them.
                    default:
                        break; // redirect and direct_response: calls matching it fail, as in gRPC.
                }

                var routeOverrides = DecodeFilterOverrides(route.TypedPerFilterConfig, field, out var overrideField, out var overrideError);
                if (routeOverrides is null)
                {
                    return Fail(config.Name, overrideField!, overrideError!);
                }

                var httpActions = Routing.RouteActions.HttpRouteActionsDecoder.Decode(route, out var httpField, out var httpError);
                if (httpError is not null)
                {
                    return Fail(config.Name, $"{field}.{httpField}", httpError);
                }

                routes.Add(new RouteResource(route.Name, match, action) { FilterOverrides = routeOverrides, HttpActions = httpActions });
            }

            hosts.Add(new VirtualHostResource(vhost.Name, [.. vhost.Domains], routes.ToImmutable())
            {
                FilterOverrides = hostOverrides,
                RequireTls = vhost.RequireTls != VirtualHost.Types.TlsRequirementType.None,
            });
        }

        return XdsDecodeResult.Success(config.Name, new RouteConfigResource(config.Name, hosts.ToImmutable()));
    }

    /// <summary>Decodes a route action; null without error when the route is to be ignored (A28).</summary>
    private static RouteActionResource? DecodeAction(RouteAction action, out FieldError? error)
    {
        error = null;
        ImmutableArray<WeightedClusterResource> clusters;
        switch (action.ClusterSpecifierCase)
        {
            case RouteAction.ClusterSpecifierOneofCase.Cluster:
                if (string.IsNullOrEmpty(action.Cluster))
                {
                    error = new("cluster", "is empty");
                    return null;
                }

                clusters = [new WeightedClusterResource(action.Cluster, 1)];
                break;
            case RouteAction.ClusterSpecifierOneofCase.WeightedClusters:
                var builder = ImmutableArray.CreateBuilder<WeightedClusterResource>();
                ulong total = 0;
                for (var i = 0; i < action.WeightedClusters.Clusters.Count; i++)
                {
                    var weighted = action.WeightedClusters.Clusters[i];
                    var weight = weighted.Weight ?? 0;
                    if (weight == 0)
                    {
                        continue;
                    }

                    total += weight;
                    var overrides = DecodeFilterOverrides(weighted.TypedPerFilterConfig, $"weighted_clusters.clusters[{i}]", out var overrideField, out var overrideError);
                    if (overrides is null)
                    {
                        error = new(overrideField!, overrideError!);
                        return null;
                    }

                    builder.Add(new WeightedClusterResource(weighted.Name, weight) { FilterOverrides = overrides });
                }

                if (total == 0 || total > uint.MaxValue)
                {
                    error = new("weighted_clusters", $"the weights sum to {total}; it must be between 1 and {uint.MaxValue}");
                    return null;
                }

                clusters = builder.ToImmutable();
                break;
            default:
                return null; // A28: cluster_header or an unknown specifier: the route is ignored.
        }

        var hashHeaders = ImmutableArray.CreateBuilder<string>();
        var hashPolicies = ImmutableArray.CreateBuilder<HashPolicyResource>();
        foreach (var policy in action.HashPolicy)
        {
            switch (policy.PolicySpecifierCase)
            {
                case RouteAction.Types.HashPolicy.PolicySpecifierOneofCase.Header:
                    var header = policy.Header.HeaderName.ToLowerInvariant();
                    hashHeaders.Add(header);
                    hashPolicies.Add(new HashPolicyResource(HashPolicyKind.Header, header, policy.Terminal));
                    break;
                case RouteAction.Types.HashPolicy.PolicySpecifierOneofCase.FilterState when policy.FilterState.Key == ChannelIdFilterStateKey:
                    hashPolicies.Add(new HashPolicyResource(HashPolicyKind.ChannelId, string.Empty, policy.Terminal));
                    break;
                case RouteAction.Types.HashPolicy.PolicySpecifierOneofCase.Cookie when policy.Cookie.Name.Length > 0:
                    // Beyond A42 (gRPC ignores it): Mesh.Client hashes an existing cookie; it never invents one.
                    hashPolicies.Add(new HashPolicyResource(HashPolicyKind.Cookie, policy.Cookie.Name, policy.Terminal));
                    break;
                case RouteAction.Types.HashPolicy.PolicySpecifierOneofCase.QueryParameter when policy.QueryParameter.Name.Length > 0:
                    hashPolicies.Add(new HashPolicyResource(HashPolicyKind.QueryParameter, policy.QueryParameter.Name, policy.Terminal));
                    break;
                default:
                    break; // A42: other hash policies are ignored.
            }
        }

        // A31: grpc_timeout_header_max, when present, wins over max_stream_duration (0 means no limit).
        TimeSpan? maxStreamDuration = null;
        if (action.MaxStreamDuration is { } limits)
        {
            var chosen = limits.GrpcTimeoutHeaderMax ?? limits.MaxStreamDuration_;
            var chosenField = limits.GrpcTimeoutHeaderMax is null ? "max_stream_duration.max_stream_duration" : "max_stream_duration.grpc_timeout_header_max";
            if (chosen is not null)
            {
                if (!IsValidDuration(chosen))
                {
                    error = new(chosenField, "is not a valid non-negative duration");
                    return null;
                }

                var d = chosen.ToTimeSpan();
                maxStreamDuration = d > TimeSpan.Zero ? d : null;
            }
        }

        RetryPolicyResource? retry = null;
        if (action.RetryPolicy is { } retryPolicy)
        {
            retry = DecodeRetry(retryPolicy, out error);
            if (error is not null)
            {
                return null;
            }
        }

        return new RouteActionResource(clusters, hashHeaders.ToImmutable(), maxStreamDuration) { Retry = retry, HashPolicies = hashPolicies.ToImmutable() };
    }

    /// <summary>The filter_state key of the channel-id hash policy (gRFC A42).</summary>
    public const string ChannelIdFilterStateKey = "io.grpc.channel_id";

    private static bool IsValidDuration(Duration duration) =>
        duration.Seconds >= 0 && duration.Nanos >= 0 && duration.Nanos < 1_000_000_000 && duration.Seconds <= 315_576_000_000L;

    /// <summary>
    /// A44: retry_on names gRPC statuses (Envoy's HTTP conditions and retriable_status_codes are kept for the HttpClient
    /// path, others ignored);
    /// num_retries, when set, at least 1 (attempts capped at 5); base_interval, when a back-off is set, above 0
    /// (25 ms by default); max_interval, when set, above 0 and not below base_interval (10× base by default).
    /// </summary>
    private static RetryPolicyResource? DecodeRetry(RetryPolicy policy, out FieldError? error)
    {
        error = null;
        var codes = ImmutableHashSet.CreateBuilder<Grpc.Core.StatusCode>();
        var http = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var item in policy.RetryOn.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (item.ToLowerInvariant())
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
                case "5xx" or "gateway-error" or "connect-failure" or "reset" or "refused-stream" or "retriable-4xx" or "retriable-status-codes":
                    http.Add(item.ToLowerInvariant());
                    break;
            }
        }

        if (policy.NumRetries is 0)
        {
            error = new("retry_policy.num_retries", "must be at least 1 when set");
            return null;
        }

        var baseBackoff = TimeSpan.FromMilliseconds(25);
        if (policy.RetryBackOff is { } backOff)
        {
            if (backOff.BaseInterval is not { } baseInterval || !IsValidDuration(baseInterval) || baseInterval.ToTimeSpan() <= TimeSpan.Zero)
            {
                error = new("retry_policy.retry_back_off.base_interval", "must be set and greater than zero");
                return null;
            }

            baseBackoff = baseInterval.ToTimeSpan();
        }

        var maxBackoff = baseBackoff * 10;
        if (policy.RetryBackOff?.MaxInterval is { } maxInterval)
        {
            if (!IsValidDuration(maxInterval) || maxInterval.ToTimeSpan() <= TimeSpan.Zero)
            {
                error = new("retry_policy.retry_back_off.max_interval", "must be greater than zero");
                return null;
            }

            maxBackoff = maxInterval.ToTimeSpan();
            if (maxBackoff < baseBackoff)
            {
                error = new("retry_policy.retry_back_off.max_interval", "must not be below base_interval");
                return null;
            }
        }

        if (policy.PerTryTimeout is { } perTryTimeout && !IsValidDuration(perTryTimeout))
        {
            error = new("retry_policy.per_try_timeout", "is not a valid non-negative duration");
            return null;
        }

        if (codes.Count == 0 && http.Count == 0)
        {
            return null; // nothing this client retries on
        }

        var attempts = (int)Math.Min((policy.NumRetries ?? 1) + 1L, 5);
        var perTry = policy.PerTryTimeout?.ToTimeSpan();
        var statuses = ImmutableHashSet.CreateBuilder<int>();
        foreach (var status in policy.RetriableStatusCodes)
        {
            statuses.Add((int)status);
        }

        return new RetryPolicyResource(codes.ToImmutable(), attempts, perTry > TimeSpan.Zero ? perTry : null, baseBackoff, maxBackoff, http.ToImmutable())
        {
            RetriableStatusCodes = statuses.ToImmutable(),
        };
    }

    /// <summary>A rejected field inside a nested message, relative to the caller's path.</summary>
    private sealed record FieldError(string Field, string Message);

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

    private static XdsDecodeResult Fail(string name, string field, string message) =>
        XdsDecodeResult.Failure(name, $"{field}: {message}");
}
