using System.Text.Json.Nodes;

namespace Mesh.Cli.Analyze;

/// <summary>One configuration object as the analyzers see it: kind, where it lives, where it came from, and its JSON.</summary>
internal sealed record AnalyzedResource(string ApiVersion, string Kind, string Namespace, string Name, string Origin, JsonObject Body)
{
    /// <summary><c>Kind namespace/name</c>, as messages name a resource.</summary>
    public string DisplayName => $"{Kind} {Namespace}/{Name}";

    /// <summary>The API group (the part of apiVersion before the slash; empty for the core group).</summary>
    public string Group => ApiVersion.Contains('/', StringComparison.Ordinal) ? ApiVersion[..ApiVersion.IndexOf('/', StringComparison.Ordinal)] : string.Empty;
}
