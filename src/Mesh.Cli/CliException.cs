namespace Mesh.Cli;

/// <summary>A failure to report to the user as one line on standard error, with the process exit code.</summary>
internal sealed class CliException : Exception
{
    /// <summary>Exit code for a failure (unreachable control plane, unknown workload, invalid configuration).</summary>
    public const int Failure = 1;

    /// <summary>Exit code for a command line that could not be used (bad flags, missing arguments).</summary>
    public const int Usage = 2;

    public CliException()
    {
    }

    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public CliException(string message, int exitCode, Exception? innerException = null)
        : base(message, innerException)
    {
        ExitCode = exitCode;
    }

    /// <summary>The exit code.</summary>
    public int ExitCode { get; } = Failure;
}
