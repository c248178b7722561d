using System.Text.Json;

namespace Mesh.ControlPlane.Configuration;

// The spec shapes of Istio's security resources (security.istio.io/v1 and v1beta1), bound like IstioResources.cs:
// field names follow Istio's API exactly and unknown fields are an error. Fields Istio has and Mesh cannot
// enforce are bound as JsonElement so the error can say "not supported" instead of "unknown field".

internal sealed class AuthorizationPolicySpec
{
    public AuthorizationPolicySelector? Selector { get; set; }
    public JsonElement? TargetRef { get; set; }
    public JsonElement? TargetRefs { get; set; }
    public List<AuthorizationRuleSpec?>? Rules { get; set; }
    public string? Action { get; set; }
    public JsonElement? Provider { get; set; }
}

internal sealed class AuthorizationPolicySelector
{
    public Dictionary<string, string>? MatchLabels { get; set; }
}

internal sealed class AuthorizationRuleSpec
{
    public List<AuthorizationRuleFrom?>? From { get; set; }
    public List<AuthorizationRuleTo?>? To { get; set; }
    public List<AuthorizationConditionSpec?>? When { get; set; }
}

internal sealed class AuthorizationRuleFrom
{
    public AuthorizationSourceSpec? Source { get; set; }
}

internal sealed class AuthorizationSourceSpec
{
    public List<string>? Principals { get; set; }
    public List<string>? NotPrincipals { get; set; }
    public List<string>? RequestPrincipals { get; set; }
    public List<string>? NotRequestPrincipals { get; set; }
    public List<string>? Namespaces { get; set; }
    public List<string>? NotNamespaces { get; set; }
    public List<string>? ServiceAccounts { get; set; }
    public List<string>? NotServiceAccounts { get; set; }
    public List<string>? IpBlocks { get; set; }
    public List<string>? NotIpBlocks { get; set; }
    public List<string>? RemoteIpBlocks { get; set; }
    public List<string>? NotRemoteIpBlocks { get; set; }
}

internal sealed class AuthorizationRuleTo
{
    public AuthorizationOperationSpec? Operation { get; set; }
}

internal sealed class AuthorizationOperationSpec
{
    public List<string>? Hosts { get; set; }
    public List<string>? NotHosts { get; set; }
    public List<string>? Ports { get; set; }
    public List<string>? NotPorts { get; set; }
    public List<string>? Methods { get; set; }
    public List<string>? NotMethods { get; set; }
    public List<string>? Paths { get; set; }
    public List<string>? NotPaths { get; set; }
}

internal sealed class AuthorizationConditionSpec
{
    public string? Key { get; set; }
    public List<string>? Values { get; set; }
    public List<string>? NotValues { get; set; }
}
