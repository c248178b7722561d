using System.Collections.Immutable;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Authorization;

/// <summary>Which AuthorizationPolicies apply to a workload (Istio's rules).</summary>
public static class AuthorizationPolicyScope
{
    /// <summary>Istio's default root namespace: policies there apply across the mesh.</summary>
    public const string DefaultRootNamespace = "istio-system";

    /// <summary>
    /// The policies that apply to a workload in <paramref name="namespace"/> with <paramref name="labels"/>: those in the
    /// root namespace and those in the workload's namespace, each when it has no selector or its <c>matchLabels</c> are
    /// all on the workload. The result is ordered by namespace, then name.
    /// </summary>
    public static ImmutableArray<AuthorizationPolicyModel> ForWorkload(
        MeshSnapshot snapshot,
        string @namespace,
        IReadOnlyDictionary<string, string> labels,
        string rootNamespace = DefaultRootNamespace)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(labels);
        var result = ImmutableArray.CreateBuilder<AuthorizationPolicyModel>();
        foreach (var policy in snapshot.AuthorizationPolicies)
        {
            var inScope = policy.Namespace == rootNamespace || policy.Namespace == @namespace;
            if (inScope && Selects(policy.Selector, labels))
            {
                result.Add(policy);
            }
        }

        return result.ToImmutable();
    }

    private static bool Selects(ImmutableDictionary<string, string>? selector, IReadOnlyDictionary<string, string> labels)
    {
        if (selector is null)
        {
            return true;
        }

        foreach (var (key, value) in selector)
        {
            if (!labels.TryGetValue(key, out var own) || own != value)
            {
                return false;
            }
        }

        return true;
    }
}
