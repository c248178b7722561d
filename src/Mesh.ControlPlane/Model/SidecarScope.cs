using System.Collections.Immutable;

namespace Mesh.ControlPlane.Model;

/// <summary>
/// A Sidecar's egress scope: the services the workloads it selects are sent. A Sidecar with a selector applies to
/// the matching workloads of its namespace; one without, to every other workload of its namespace; one without a
/// selector in the root namespace, to every workload whose namespace has none.
/// </summary>
public sealed record SidecarScope
{
    /// <summary>The namespace that holds every workload's default Sidecar, as in Istio.</summary>
    public const string RootNamespace = "istio-system";

    /// <summary>The Sidecar's namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The labels of the workloads it selects, or null for every workload of the namespace.</summary>
    public ImmutableDictionary<string, string>? Selector { get; init; }

    /// <summary>The egress hosts, as <c>namespace/dnsName</c> pairs (namespace <c>*</c>, <c>.</c>, <c>~</c> or a name).</summary>
    public required ImmutableArray<KeyValuePair<string, string>> EgressHosts { get; init; }

    /// <summary>The resource it came from.</summary>
    public required string DeclaredBy { get; init; }

    /// <summary>Whether a workload under this scope is sent <paramref name="service"/>.</summary>
    public bool Allows(MeshService service)
    {
        foreach (var (ns, dnsName) in EgressHosts)
        {
            var namespaceOk = ns switch
            {
                "*" => true,
                "." => service.Namespace == Namespace,
                "~" => false,
                _ => service.Namespace == ns,
            };
            if (!namespaceOk)
            {
                continue;
            }

            if (dnsName == "*"
                || (dnsName.StartsWith("*.", StringComparison.Ordinal) && service.Host.EndsWith(dnsName[1..], StringComparison.OrdinalIgnoreCase))
                || string.Equals(dnsName, service.Host, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The scope that applies to a workload of <paramref name="ns"/> with <paramref name="labels"/>, or null when none does.</summary>
    public static SidecarScope? For(ImmutableArray<SidecarScope> scopes, string ns, IReadOnlyDictionary<string, string> labels)
    {
        SidecarScope? namespaceDefault = null;
        SidecarScope? rootDefault = null;
        foreach (var scope in scopes)
        {
            if (scope.Namespace == ns && scope.Selector is { } selector)
            {
                var all = true;
                foreach (var (key, value) in selector)
                {
                    if (!labels.TryGetValue(key, out var own) || own != value)
                    {
                        all = false;
                        break;
                    }
                }

                if (all)
                {
                    return scope;
                }
            }
            else if (scope.Namespace == ns && scope.Selector is null)
            {
                namespaceDefault ??= scope;
            }
            else if (scope.Namespace == RootNamespace && scope.Selector is null)
            {
                rootDefault ??= scope;
            }
        }

        return namespaceDefault ?? rootDefault;
    }
}
