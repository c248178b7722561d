namespace Mesh.Cli.Analyze;

/// <summary>How serious a finding is, as istioctl ranks them.</summary>
internal enum DiagnosticLevel
{
    /// <summary>Worth knowing.</summary>
    Info,

    /// <summary>Probably not what was meant.</summary>
    Warning,

    /// <summary>The configuration is wrong or will be rejected.</summary>
    Error,
}
