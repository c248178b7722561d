namespace Mesh.Server.Authorization;

/// <summary>The outcome of RBAC for one request: allowed or denied, and the policy that decided it.</summary>
/// <param name="IsAllowed">Whether the request may proceed.</param>
/// <param name="PolicyName">
/// The policy that matched: for an ALLOW engine the one that allowed, for a DENY engine the one that denied;
/// <see langword="null"/> when the decision came from no policy matching.
/// </param>
internal readonly record struct RbacDecision(bool IsAllowed, string? PolicyName)
{
    /// <summary>Allowed with no policy involved (no RBAC, or a DENY engine where nothing matched).</summary>
    public static RbacDecision Allow => new(true, null);

    public static RbacDecision AllowedBy(string policyName) => new(true, policyName);

    public static RbacDecision DeniedBy(string? policyName) => new(false, policyName);
}
