using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>How a workload accepts connections (Istio's PeerAuthentication mTLS modes).</summary>
public enum MtlsMode
{
    /// <summary>Inherit from the enclosing scope (namespace, then mesh); PERMISSIVE when nothing sets it.</summary>
    Unset,

    /// <summary>Plaintext only.</summary>
    Disable,

    /// <summary>Mutual TLS and plaintext on the same port.</summary>
    Permissive,

    /// <summary>Mutual TLS only.</summary>
    Strict,
}

/// <summary>A PeerAuthentication: the mTLS mode of the workloads it selects, optionally per port.</summary>
/// <param name="Namespace">The namespace; the root namespace makes a policy without selector mesh-wide.</param>
/// <param name="Name">The resource name.</param>
/// <param name="Selector">The workload labels it selects on; null for a namespace-wide (or mesh-wide) policy.</param>
/// <param name="Mode">The mode for every port not listed in <paramref name="PortModes"/>.</param>
/// <param name="PortModes">Modes by workload (target) port.</param>
/// <param name="DeclaredBy">The resource it came from.</param>
public sealed record PeerAuthenticationPolicy(
    string Namespace,
    string Name,
    ImmutableDictionary<string, string>? Selector,
    MtlsMode Mode,
    ImmutableDictionary<int, MtlsMode> PortModes,
    string DeclaredBy)
{
    /// <summary>The namespace whose selector-less policies apply to the whole mesh (Istio's root namespace).</summary>
    public const string RootNamespace = "istio-system";

    /// <summary>
    /// The mode a workload in <paramref name="workloadNamespace"/> with <paramref name="labels"/> has on
    /// <paramref name="port"/>, following Istio: a workload policy (with a selector that matches) over the
    /// namespace's policy over the mesh's; UNSET inherits; port-level modes override the workload policy's mode;
    /// PERMISSIVE when nothing decides. Among equally specific policies the first by name wins.
    /// </summary>
    public static MtlsMode Resolve(ImmutableArray<PeerAuthenticationPolicy> policies, string workloadNamespace, IReadOnlyDictionary<string, string> labels, int port)
    {
        PeerAuthenticationPolicy? mesh = null, ns = null, workload = null;
        foreach (var policy in policies)
        {
            if (policy.Selector is null)
            {
                if (policy.Namespace == workloadNamespace && Earlier(policy, ns))
                {
                    ns = policy;
                }
                else if (policy.Namespace == RootNamespace && Earlier(policy, mesh))
                {
                    mesh = policy;
                }
            }
            else if (policy.Namespace == workloadNamespace && Selects(policy.Selector, labels) && Earlier(policy, workload))
            {
                workload = policy;
            }
        }

        var mode = MtlsMode.Permissive;
        if (mesh is { Mode: not MtlsMode.Unset })
        {
            mode = mesh.Mode;
        }

        if (ns is { Mode: not MtlsMode.Unset })
        {
            mode = ns.Mode;
        }

        if (workload is not null)
        {
            if (workload.Mode != MtlsMode.Unset)
            {
                mode = workload.Mode;
            }

            if (workload.PortModes.TryGetValue(port, out var portMode) && portMode != MtlsMode.Unset)
            {
                mode = portMode;
            }
        }

        return mode;
    }

    private static bool Earlier(PeerAuthenticationPolicy candidate, PeerAuthenticationPolicy? current) =>
        current is null || string.CompareOrdinal(candidate.Name, current.Name) < 0;

    private static bool Selects(ImmutableDictionary<string, string> selector, IReadOnlyDictionary<string, string> labels)
    {
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
