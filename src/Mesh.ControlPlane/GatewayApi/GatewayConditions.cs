using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>The condition types and reasons of the Gateway API that the conversion reports.</summary>
internal static class GatewayConditions
{
    public const string Accepted = "Accepted";
    public const string Programmed = "Programmed";
    public const string ResolvedRefs = "ResolvedRefs";
    public const string Conflicted = "Conflicted";

    // Gateway and listener reasons.
    public const string ListenersNotValid = "ListenersNotValid";
    public const string Invalid = "Invalid";
    public const string UnsupportedAddress = "UnsupportedAddress";
    public const string UnsupportedProtocol = "UnsupportedProtocol";
    public const string HostnameConflict = "HostnameConflict";
    public const string ProtocolConflict = "ProtocolConflict";
    public const string NoConflicts = "NoConflicts";
    public const string InvalidCertificateRef = "InvalidCertificateRef";
    public const string InvalidRouteKinds = "InvalidRouteKinds";

    // Route reasons.
    public const string NotAllowedByListeners = "NotAllowedByListeners";
    public const string NoMatchingListenerHostname = "NoMatchingListenerHostname";
    public const string NoMatchingParent = "NoMatchingParent";
    public const string UnsupportedValue = "UnsupportedValue";
    public const string RefNotPermitted = "RefNotPermitted";
    public const string InvalidKind = "InvalidKind";
    public const string BackendNotFound = "BackendNotFound";

    /// <summary>One condition, as <c>metav1.Condition</c> without its transition time.</summary>
    public static JsonObject Create(string type, bool status, string reason, string message, long generation) => new()
    {
        ["type"] = type,
        ["status"] = status ? "True" : "False",
        ["reason"] = reason,
        ["message"] = message,
        ["observedGeneration"] = generation,
    };
}
