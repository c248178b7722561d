using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Mesh.Server.Diagnostics;

/// <summary>The ActivitySource and Meter of Mesh.Server, both named after the package (public API: dashboards use them).</summary>
internal static class MeshServerDiagnostics
{
    public const string Name = "Mesh.Server";

    private static readonly string? Version = typeof(MeshServerDiagnostics).Assembly.GetName().Version?.ToString();

    public static readonly ActivitySource ActivitySource = new(Name, Version);

    public static readonly Meter Meter = new(Name, Version);
}
