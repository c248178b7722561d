namespace Mesh.Cli.Analyze;

/// <summary>IST0127: an AuthorizationPolicy whose selector matches no workload the configuration describes, so it protects nothing.</summary>
internal sealed class WorkloadSelectorAnalyzer : IAnalyzer
{
    /// <summary>Namespaces whose policies apply mesh-wide (Istio's root namespace, and Mesh's install namespace).</summary>
    private static readonly HashSet<string> RootNamespaces = new(StringComparer.Ordinal) { "istio-system", "mesh-system" };

    public void Analyze(MeshIndex index, List<Diagnostic> findings)
    {
        foreach (var r in index.Resources.Where(r => r.Kind == "AuthorizationPolicy"))
        {
            var selector = MeshIndex.Labels(r.Body, "spec", "selector", "matchLabels");
            if (selector.Count == 0 || index.AnyWorkloadMatches(RootNamespaces.Contains(r.Namespace) ? null : r.Namespace, selector))
            {
                continue;
            }

            var labels = string.Join(',', selector.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
            findings.Add(new Diagnostic(DiagnosticLevel.Warning, MessageCodes.NoMatchingWorkloadsFound.Code, MessageCodes.NoMatchingWorkloadsFound.Name, r.DisplayName, r.Origin, "spec.selector.matchLabels",
                $"No matching workloads for this resource with the following labels: {labels}"));
        }
    }
}
