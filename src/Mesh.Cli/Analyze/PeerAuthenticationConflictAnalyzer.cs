using Mesh.Cli.Output;

namespace Mesh.Cli.Analyze;

/// <summary>
/// MSH0001: two PeerAuthentications in one namespace that both apply namespace-wide, or that select the same workloads
/// (identical selectors, or a described workload both select) with different modes — which one wins is undefined.
/// </summary>
internal sealed class PeerAuthenticationConflictAnalyzer : IAnalyzer
{
    public void Analyze(MeshIndex index, List<Diagnostic> findings)
    {
        var byNamespace = index.Resources.Where(r => r.Kind == "PeerAuthentication").GroupBy(r => r.Namespace, StringComparer.Ordinal);
        foreach (var group in byNamespace)
        {
            var policies = group.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
            var namespaceWide = policies.Where(p => Selector(p).Count == 0).ToList();
            if (namespaceWide.Count > 1)
            {
                foreach (var p in namespaceWide)
                {
                    findings.Add(Conflict(p, $"The PeerAuthentications {Names(namespaceWide)} in namespace \"{group.Key}\" have no workload selector, so which one applies is undefined. Merge them into one."));
                }
            }

            var selecting = policies.Where(p => Selector(p).Count > 0).ToList();
            for (var i = 0; i < selecting.Count; i++)
            {
                for (var j = i + 1; j < selecting.Count; j++)
                {
                    var (a, b) = (selecting[i], selecting[j]);
                    var (sa, sb) = (Selector(a), Selector(b));
                    var same = sa.Count == sb.Count && MeshIndex.Matches(sa, sb);
                    var shared = index.Workloads.FirstOrDefault(w => w.Namespace == group.Key && MeshIndex.Matches(w.Labels, sa) && MeshIndex.Matches(w.Labels, sb));
                    if (same || (shared.Labels is not null && Mode(a) != Mode(b)))
                    {
                        var what = same ? "select the same workloads" : $"both select the workload labelled {Describe(shared.Labels!)} with different modes ({Mode(a)}, {Mode(b)})";
                        foreach (var p in new[] { a, b })
                        {
                            findings.Add(Conflict(p, $"The PeerAuthentications {Names([a, b])} in namespace \"{group.Key}\" {what}, so which one applies is undefined."));
                        }
                    }
                }
            }
        }
    }

    private static IReadOnlyDictionary<string, string> Selector(AnalyzedResource r) => MeshIndex.Labels(r.Body, "spec", "selector", "matchLabels");

    private static string Mode(AnalyzedResource r) => Json.Str(r.Body, "spec", "mtls", "mode") ?? "UNSET";

    private static string Names(IEnumerable<AnalyzedResource> policies) => "[" + string.Join(' ', policies.Select(p => p.Name)) + "]";

    private static string Describe(IReadOnlyDictionary<string, string> labels) => string.Join(',', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));

    private static Diagnostic Conflict(AnalyzedResource r, string message) =>
        new(DiagnosticLevel.Error, MessageCodes.ConflictingPeerAuthentications.Code, MessageCodes.ConflictingPeerAuthentications.Name, r.DisplayName, r.Origin, null, message);
}
