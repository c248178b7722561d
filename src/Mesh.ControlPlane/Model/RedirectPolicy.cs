namespace Mesh.ControlPlane.Model;

/// <summary>An HTTP redirect answered instead of forwarding (Istio's <c>HTTPRedirect</c>); null parts keep the request's.</summary>
public sealed record RedirectPolicy
{
    /// <summary>The path to redirect to, if replaced.</summary>
    public string? Uri { get; init; }

    /// <summary>The authority (host) to redirect to, if replaced.</summary>
    public string? Authority { get; init; }

    /// <summary>The port to redirect to, if replaced.</summary>
    public int? Port { get; init; }

    /// <summary>The scheme to redirect to, if replaced.</summary>
    public string? Scheme { get; init; }

    /// <summary>The status: 301 (the default), 302, 303, 307 or 308.</summary>
    public int Code { get; init; } = 301;
}
