namespace Mesh.Cli.Analyze;

/// <summary>
/// The message codes <c>mesh analyze</c> reports. Where Istio has a message for the problem its code and name are used
/// (istioctl analyze users know them); Mesh's own checks, which Istio has no message for, use MSH codes.
/// </summary>
internal static class MessageCodes
{
    /// <summary>IST0101: a referenced resource (host, subset, gateway) does not exist.</summary>
    public static readonly (string Code, string Name) ReferencedResourceNotFound = ("IST0101", "ReferencedResourceNotFound");

    /// <summary>IST0106: the control plane's validator rejects the resource.</summary>
    public static readonly (string Code, string Name) SchemaValidationError = ("IST0106", "SchemaValidationError");

    /// <summary>IST0127: a workload selector matches no workload.</summary>
    public static readonly (string Code, string Name) NoMatchingWorkloadsFound = ("IST0127", "NoMatchingWorkloadsFound");

    /// <summary>IST0133: the control plane's validator warns about the resource (read but not acted on).</summary>
    public static readonly (string Code, string Name) SchemaWarning = ("IST0133", "SchemaWarning");

    /// <summary>MSH0001: two PeerAuthentications apply to the same workloads (or both namespace-wide), so which wins is undefined.</summary>
    public static readonly (string Code, string Name) ConflictingPeerAuthentications = ("MSH0001", "ConflictingPeerAuthentications");

    /// <summary>MSH0002: a gateway no route is attached to: it accepts connections and routes nothing.</summary>
    public static readonly (string Code, string Name) GatewayWithoutRoute = ("MSH0002", "GatewayWithoutRoute");
}
