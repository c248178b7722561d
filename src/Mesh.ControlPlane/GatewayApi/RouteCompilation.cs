namespace Mesh.ControlPlane.GatewayApi;

/// <summary>What one route's rules became: the Istio HTTP routes, or why the route is refused, and its unresolved references.</summary>
internal sealed class RouteCompilation
{
    /// <summary>The Istio HTTP routes of every rule and match, unordered.</summary>
    public List<RouteEntry> Entries { get; } = [];

    /// <summary>Why the route is refused (a field Mesh cannot honour), naming the field; null when it is not.</summary>
    public string? Unsupported { get; private set; }

    /// <summary>The first unresolved reference's reason, and every unresolved reference in words; null when all resolved.</summary>
    public (string Reason, string Message)? Unresolved { get; private set; }

    public void Refuse(string field, string message) => Unsupported ??= field + ": " + message;

    public void Unresolve(string reason, string message) =>
        Unresolved = Unresolved is { } first ? (first.Reason, first.Message + "; " + message) : (reason, message);
}
