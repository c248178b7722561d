namespace Mesh.ControlPlane.Model;

/// <summary>
/// A host of a Gateway server (<c>[namespace/]host</c>): the host name (<c>*</c>, <c>*.example.com</c> or a name)
/// and the namespace whose VirtualServices may bind to it — <c>*</c> for any, or one namespace (<c>.</c> is
/// resolved to the Gateway's own when the model is built).
/// </summary>
/// <param name="Namespace">The namespace a binding VirtualService must be in, or <c>*</c>.</param>
/// <param name="Host">The host name, possibly a wildcard.</param>
public sealed record GatewayHost(string Namespace, string Host)
{
    /// <summary>Whether a VirtualService in <paramref name="ns"/> may bind to this host.</summary>
    public bool Admits(string ns) => Namespace == "*" || Namespace == ns;

    /// <summary>
    /// The host a VirtualService host <paramref name="virtualServiceHost"/> serves here: the narrower of the two when
    /// one covers the other (as Istio intersects them), or null when they do not meet.
    /// </summary>
    public string? Intersect(string virtualServiceHost)
    {
        if (Covers(Host, virtualServiceHost))
        {
            return virtualServiceHost;
        }

        return Covers(virtualServiceHost, Host) ? Host : null;
    }

    /// <summary>Whether the host pattern <paramref name="pattern"/> covers every name <paramref name="host"/> covers.</summary>
    public static bool Covers(string pattern, string host)
    {
        if (pattern == "*" || pattern == host)
        {
            return true;
        }

        // *.example.com covers a.example.com and *.a.example.com.
        return pattern.StartsWith("*.", StringComparison.Ordinal)
            && host.EndsWith(pattern[1..], StringComparison.Ordinal)
            && host.Length > pattern.Length - 1;
    }
}
