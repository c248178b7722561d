using System.Diagnostics;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// One process of the chaos run: this executable in another mode (<c>chaos-cp</c>, <c>chaos-backend</c>,
/// <c>chaos-client</c>). Its standard output is read line by line on a background thread and handed to
/// <see cref="LineReceived"/>; its standard error goes to a log file. <see cref="Kill"/> is SIGKILL; <see cref="StopAsync"/>
/// closes standard input, which every chaos mode takes as the signal to stop cleanly.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _readyPrefix;
    private readonly StreamWriter _errors;

    private ChildProcess(Process process, string name, string readyPrefix, string errorLog, Action<string>? onLine)
    {
        _process = process;
        Name = name;
        _readyPrefix = readyPrefix;
        LineReceived = onLine;
        _errors = new StreamWriter(errorLog, append: true) { AutoFlush = true };
        _process.OutputDataReceived += (_, e) => OnOutput(e.Data);
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (_errors)
                {
                    _errors.WriteLine(line);
                }
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    private Action<string>? LineReceived { get; }

    /// <summary>Starts this executable with <paramref name="args"/>; <paramref name="readyPrefix"/> is the first word of the line it prints once it serves.</summary>
    public static ChildProcess Start(string name, IEnumerable<string> args, IDictionary<string, string> environment, string readyPrefix, string errorLog, Action<string>? onLine = null)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo
        {
            FileName = self,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["DOTNET_TieredPGO"] = "0"; // steadier CPU use right after a restart
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start");
        return new ChildProcess(process, name, readyPrefix, errorLog, onLine);
    }

    /// <summary>Waits for the ready line and returns it.</summary>
    public async Task<string> WaitReadyAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return await _ready.Task.WaitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} (pid {Id}) did not print '{_readyPrefix}' within {timeout.TotalSeconds:F0} s");
        }
    }

    /// <summary>SIGKILL: the process gets no chance to clean up, as in a crash or an OOM kill.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    /// <summary>Closes standard input and waits for a clean exit (SIGKILL after <paramref name="timeout"/>).</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // the pipe is already broken: the process is gone
        }

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
        lock (_errors)
        {
            _errors.Dispose();
        }
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            _ready.TrySetException(new InvalidOperationException($"{Name} exited before it was ready"));
            return;
        }

        if (!_ready.Task.IsCompleted && line.StartsWith(_readyPrefix, StringComparison.Ordinal))
        {
            _ready.TrySetResult(line);
        }

        LineReceived?.Invoke(line);
    }
}
