using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// What Mesh applies of a Telemetry resource: the random trace sampling (<c>tracing[].randomSamplingPercentage</c>) of
/// the workloads it selects, for their outbound (client) and inbound (server) requests as <c>tracing[].match.mode</c>
/// says. The control plane carries it to the workloads in their listeners' HTTP connection manager
/// (<c>tracing.random_sampling</c>), as istiod does for Envoy.
/// </summary>
/// <param name="Namespace">The namespace; the root namespace makes a policy without selector mesh-wide.</param>
/// <param name="Name">The resource name.</param>
/// <param name="Selector">The workload labels it selects on; null for a namespace-wide (or mesh-wide) policy.</param>
/// <param name="ClientSampling">The sampling percentage of the workloads' outbound requests, or null when it sets none.</param>
/// <param name="ServerSampling">The sampling percentage of the workloads' inbound requests, or null when it sets none.</param>
public sealed record TelemetryPolicy(
    string Namespace,
    string Name,
    ImmutableDictionary<string, string>? Selector,
    double? ClientSampling,
    double? ServerSampling)
{
    /// <summary>The namespace whose selector-less Telemetry applies to the whole mesh (Istio's root namespace).</summary>
    public const string RootNamespace = PeerAuthenticationPolicy.RootNamespace;

    /// <summary>
    /// The sampling percentage for a workload in <paramref name="workloadNamespace"/> with <paramref name="labels"/>,
    /// for its inbound (<paramref name="server"/>) or outbound requests, following Istio's precedence: a Telemetry
    /// selecting the workload over its namespace's over the root namespace's, each field inherited from the less
    /// specific one when unset; among equally specific ones the first by name. Null when none sets it.
    /// </summary>
    public static double? Sampling(ImmutableArray<TelemetryPolicy> policies, string workloadNamespace, IReadOnlyDictionary<string, string> labels, bool server)
    {
        TelemetryPolicy? mesh = null, ns = null, workload = null;
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

        return Of(workload) ?? Of(ns) ?? Of(mesh);

        double? Of(TelemetryPolicy? policy) => policy is null ? null : server ? policy.ServerSampling : policy.ClientSampling;
    }

    private static bool Earlier(TelemetryPolicy candidate, TelemetryPolicy? current) =>
        current is null || string.CompareOrdinal(candidate.Name, current.Name) < 0;

    private static bool Selects(ImmutableDictionary<string, string> selector, IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in selector)
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value)
            {
                return false;
            }
        }

        return true;
    }
}
