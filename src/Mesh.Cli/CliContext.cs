namespace Mesh.Cli;

/// <summary>
/// What a command may touch outside itself: its output streams, the environment, the clock, the browser. Tests pass
/// their own; the tool uses the process's.
/// </summary>
internal sealed class CliContext
{
    /// <summary>Standard output.</summary>
    public required TextWriter Out { get; init; }

    /// <summary>Standard error.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Reads an environment variable.</summary>
    public Func<string, string?> GetVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Opens a URL in a browser; false when there is none to open.</summary>
    public Func<Uri, bool> OpenBrowser { get; init; } = _ => false;

    /// <summary>How long one request to the control plane or a workload may take.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The width help text wraps at; null for the library's default (the terminal's width).</summary>
    public int? HelpWidth { get; init; }

    /// <summary>The context of this process: the console, the real environment, the system clock and browser.</summary>
    public static CliContext FromProcess() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        OpenBrowser = Browser.TryOpen,
    };
}
