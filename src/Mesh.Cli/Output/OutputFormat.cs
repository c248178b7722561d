namespace Mesh.Cli.Output;

/// <summary>How a command prints its result: <c>-o table|json|yaml</c>.</summary>
internal enum OutputFormat
{
    /// <summary>Aligned columns, as istioctl prints them.</summary>
    Table,

    /// <summary>Indented JSON.</summary>
    Json,

    /// <summary>YAML.</summary>
    Yaml,
}
