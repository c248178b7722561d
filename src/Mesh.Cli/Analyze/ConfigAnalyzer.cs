namespace Mesh.Cli.Analyze;

/// <summary>Runs the control plane's validator and every analyzer over a directory, and orders what they found.</summary>
internal static class ConfigAnalyzer
{
    private static readonly IAnalyzer[] Analyzers =
    [
        new DestinationAnalyzer(),
        new PeerAuthenticationConflictAnalyzer(),
        new WorkloadSelectorAnalyzer(),
        new GatewayAnalyzer(),
    ];

    /// <summary>Every finding for <paramref name="set"/> (a directory's or a cluster's resources), errors first, then by file and line.</summary>
    public static (int ResourceCount, IReadOnlyList<Diagnostic> Findings) Analyze(Mesh.ControlPlane.Configuration.ConfigSet set)
    {
        var (resources, findings) = ControlPlaneValidation.Validate(set);
        var analyzed = new List<Diagnostic>();
        var index = new MeshIndex(resources);
        foreach (var analyzer in Analyzers)
        {
            analyzer.Analyze(index, analyzed);
        }

        // Where an analyzer names the same field the validator rejected, its specific code (IST0101…) says it better.
        var specific = analyzed.Where(d => d.Field is not null).Select(d => (d.Resource, d.Field)).ToHashSet();
        var all = findings.Where(d => !specific.Contains((d.Resource, d.Field))).Concat(analyzed).ToList();

        return (resources.Count, [.. all.Distinct().OrderByDescending(d => d.Level).ThenBy(d => d.Origin, StringComparer.Ordinal).ThenBy(d => d.Code, StringComparer.Ordinal)]);
    }
}
