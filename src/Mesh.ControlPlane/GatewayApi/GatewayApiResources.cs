using System.Text.Json;

namespace Mesh.ControlPlane.GatewayApi;

// The spec shapes of the Kubernetes Gateway API resources Mesh reads (gateway.networking.k8s.io/v1: GatewayClass,
// Gateway, HTTPRoute, GRPCRoute; v1beta1: ReferenceGrant), as JSON binds them. Field names follow the Gateway API
// exactly; unknown fields are an error, as for the Istio shapes. Fields of the API that Mesh does not act on are bound
// as JsonElement so a valid resource still loads; the conversion rejects a route or listener that sets one (status
// condition UnsupportedValue) rather than ignoring it.

internal sealed class GatewayClassSpec
{
    public string? ControllerName { get; set; }
    public JsonElement? ParametersRef { get; set; }
    public string? Description { get; set; }
}

internal sealed class KubeGatewaySpec
{
    public string? GatewayClassName { get; set; }
    public List<ListenerSpec>? Listeners { get; set; }
    public List<GatewayAddressSpec>? Addresses { get; set; }
    public JsonElement? Infrastructure { get; set; }
    public JsonElement? BackendTLS { get; set; }
}

internal sealed class GatewayAddressSpec
{
    public string? Type { get; set; }
    public string? Value { get; set; }
}

internal sealed class ListenerSpec
{
    public string? Name { get; set; }
    public string? Hostname { get; set; }
    public int? Port { get; set; }
    public string? Protocol { get; set; }
    public GatewayTlsSpec? Tls { get; set; }
    public AllowedRoutesSpec? AllowedRoutes { get; set; }
}

internal sealed class GatewayTlsSpec
{
    public string? Mode { get; set; }
    public List<ObjectReferenceSpec>? CertificateRefs { get; set; }
    public Dictionary<string, string>? Options { get; set; }
    public JsonElement? FrontendValidation { get; set; }
}

/// <summary>A reference to an object of any kind (a Secret, a Service), with the Gateway API's defaults left unset.</summary>
internal sealed class ObjectReferenceSpec
{
    public string? Group { get; set; }
    public string? Kind { get; set; }
    public string? Name { get; set; }
    public string? Namespace { get; set; }
    public int? Port { get; set; }
}

internal sealed class AllowedRoutesSpec
{
    public RouteNamespacesSpec? Namespaces { get; set; }
    public List<RouteGroupKindSpec>? Kinds { get; set; }
}

internal sealed class RouteNamespacesSpec
{
    public string? From { get; set; }
    public JsonElement? Selector { get; set; }
}

internal sealed class RouteGroupKindSpec
{
    public string? Group { get; set; }
    public string? Kind { get; set; }
}

internal sealed class ParentReferenceSpec
{
    public string? Group { get; set; }
    public string? Kind { get; set; }
    public string? Namespace { get; set; }
    public string? Name { get; set; }
    public string? SectionName { get; set; }
    public int? Port { get; set; }
}

internal sealed class HttpRouteSpec
{
    public List<ParentReferenceSpec>? ParentRefs { get; set; }
    public List<string>? Hostnames { get; set; }
    public List<HttpRouteRuleSpec>? Rules { get; set; }
}

internal sealed class HttpRouteRuleSpec
{
    public string? Name { get; set; }
    public List<HttpRouteMatchSpec>? Matches { get; set; }
    public List<RouteFilterSpec>? Filters { get; set; }
    public List<BackendRefSpec>? BackendRefs { get; set; }
    public HttpRouteTimeoutsSpec? Timeouts { get; set; }
    public JsonElement? Retry { get; set; }
    public JsonElement? SessionPersistence { get; set; }
}

internal sealed class HttpRouteMatchSpec
{
    public HttpPathMatchSpec? Path { get; set; }
    public List<ValueMatchSpec>? Headers { get; set; }
    public List<ValueMatchSpec>? QueryParams { get; set; }
    public string? Method { get; set; }
}

internal sealed class HttpPathMatchSpec
{
    public string? Type { get; set; }
    public string? Value { get; set; }
}

/// <summary>A header or query parameter match: <c>type</c> (Exact, the default, or RegularExpression), name and value.</summary>
internal sealed class ValueMatchSpec
{
    public string? Type { get; set; }
    public string? Name { get; set; }
    public string? Value { get; set; }
}

/// <summary>A filter of an HTTPRoute or GRPCRoute rule, or of one of its backendRefs.</summary>
internal sealed class RouteFilterSpec
{
    public string? Type { get; set; }
    public HeaderFilterSpec? RequestHeaderModifier { get; set; }
    public HeaderFilterSpec? ResponseHeaderModifier { get; set; }
    public RequestMirrorSpec? RequestMirror { get; set; }
    public RequestRedirectSpec? RequestRedirect { get; set; }
    public UrlRewriteSpec? UrlRewrite { get; set; }
    public JsonElement? ExtensionRef { get; set; }
    public JsonElement? Cors { get; set; }
    public JsonElement? ExternalAuth { get; set; }
}

internal sealed class HeaderFilterSpec
{
    public List<HeaderValueSpec>? Set { get; set; }
    public List<HeaderValueSpec>? Add { get; set; }
    public List<string>? Remove { get; set; }
}

internal sealed class HeaderValueSpec
{
    public string? Name { get; set; }
    public string? Value { get; set; }
}

internal sealed class RequestMirrorSpec
{
    public ObjectReferenceSpec? BackendRef { get; set; }
    public int? Percent { get; set; }
    public FractionSpec? Fraction { get; set; }
}

internal sealed class FractionSpec
{
    public int? Numerator { get; set; }
    public int? Denominator { get; set; }
}

internal sealed class RequestRedirectSpec
{
    public string? Scheme { get; set; }
    public string? Hostname { get; set; }
    public PathModifierSpec? Path { get; set; }
    public int? Port { get; set; }
    public int? StatusCode { get; set; }
}

internal sealed class PathModifierSpec
{
    public string? Type { get; set; }
    public string? ReplaceFullPath { get; set; }
    public string? ReplacePrefixMatch { get; set; }
}

internal sealed class UrlRewriteSpec
{
    public string? Hostname { get; set; }
    public PathModifierSpec? Path { get; set; }
}

internal sealed class BackendRefSpec
{
    public string? Group { get; set; }
    public string? Kind { get; set; }
    public string? Name { get; set; }
    public string? Namespace { get; set; }
    public int? Port { get; set; }
    public int? Weight { get; set; }
    public List<RouteFilterSpec>? Filters { get; set; }
}

internal sealed class HttpRouteTimeoutsSpec
{
    public string? Request { get; set; }
    public string? BackendRequest { get; set; }
}

internal sealed class GrpcRouteSpec
{
    public List<ParentReferenceSpec>? ParentRefs { get; set; }
    public List<string>? Hostnames { get; set; }
    public List<GrpcRouteRuleSpec>? Rules { get; set; }
}

internal sealed class GrpcRouteRuleSpec
{
    public string? Name { get; set; }
    public List<GrpcRouteMatchSpec>? Matches { get; set; }
    public List<RouteFilterSpec>? Filters { get; set; }
    public List<BackendRefSpec>? BackendRefs { get; set; }
    public JsonElement? SessionPersistence { get; set; }
}

internal sealed class GrpcRouteMatchSpec
{
    public GrpcMethodMatchSpec? Method { get; set; }
    public List<ValueMatchSpec>? Headers { get; set; }
}

internal sealed class GrpcMethodMatchSpec
{
    public string? Type { get; set; }
    public string? Service { get; set; }
    public string? Method { get; set; }
}

internal sealed class ReferenceGrantSpec
{
    public List<ReferenceGrantFromSpec>? From { get; set; }
    public List<ReferenceGrantToSpec>? To { get; set; }
}

internal sealed class ReferenceGrantFromSpec
{
    public string? Group { get; set; }
    public string? Kind { get; set; }
    public string? Namespace { get; set; }
}

internal sealed class ReferenceGrantToSpec
{
    public string? Group { get; set; }
    public string? Kind { get; set; }
    public string? Name { get; set; }
}
