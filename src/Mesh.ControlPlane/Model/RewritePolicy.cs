namespace Mesh.ControlPlane.Model;

/// <summary>How a forwarded request is rewritten (Istio's <c>HTTPRewrite</c>).</summary>
public sealed record RewritePolicy
{
    /// <summary>Replaces the matched path prefix (or the whole path for an exact match), if set.</summary>
    public string? Uri { get; init; }

    /// <summary>An RE2 pattern whose matches in the path are replaced by <see cref="UriRegexSubstitution"/>, if set.</summary>
    public string? UriRegex { get; init; }

    /// <summary>The replacement for <see cref="UriRegex"/>'s matches (<c>\1</c> names a group).</summary>
    public string? UriRegexSubstitution { get; init; }

    /// <summary>Replaces the authority (Host) header, if set.</summary>
    public string? Authority { get; init; }
}
