using System.Reflection;

namespace Mesh.ControlPlane.Debugging;

/// <summary>The control plane's version as <c>/version</c> and <c>mesh version</c> show it.</summary>
internal static class ControlPlaneVersion
{
    /// <summary>The assembly's informational version without the source revision (after <c>+</c>).</summary>
    public static string Current { get; } = Read();

    private static string Read()
    {
        var version = typeof(ControlPlaneVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
