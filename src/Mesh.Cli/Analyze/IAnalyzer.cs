namespace Mesh.Cli.Analyze;

/// <summary>One check over the whole configuration, in the spirit of istioctl's analyzers.</summary>
internal interface IAnalyzer
{
    /// <summary>Adds what it finds in <paramref name="index"/> to <paramref name="findings"/>.</summary>
    void Analyze(MeshIndex index, List<Diagnostic> findings);
}
