using System.Diagnostics;
using System.Globalization;

namespace Mesh.LoadHarness;

/// <summary>
/// The control plane (and optionally the benchmark backend) in a child process of this harness — <c>serve</c> mode of
/// the same executable — so its CPU time and memory are its own: read from the OS (/proc through <see cref="Process"/>)
/// and, on request, its managed heap after a full collection. Closing its standard input stops it.
/// </summary>
internal sealed class ControlPlaneProcess : IDisposable
{
    private readonly Process _process;
    private int _errors;
    private int _warnings;
    private int _echoed;
    private int _disposed;

    private ControlPlaneProcess(Process process, Uri xds, int backendGrpcPort)
    {
        _process = process;
        // The child logs at Warning and above to its standard error: count the entries by level, echo the first lines.
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { } line)
            {
                return;
            }

            if (line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _errors);
            }
            else if (line.StartsWith("warn:", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _warnings);
            }

            if (Interlocked.Increment(ref _echoed) <= 40)
            {
                Console.Error.WriteLine("  control plane: " + line);
            }
        };
        process.BeginErrorReadLine();
        XdsAddress = xds;
        BackendGrpcPort = backendGrpcPort;
    }

    public Uri XdsAddress { get; }

    /// <summary>The backend's gRPC port, or 0 without one.</summary>
    public int BackendGrpcPort { get; }

    public int Id => _process.Id;

    public static ControlPlaneProcess Start(string configDir, bool backend, TimeSpan? loadReportingInterval = null)
    {
        var arguments = new List<string> { "--config-dir", configDir };
        if (backend)
        {
            arguments.Add("--backend");
        }

        if (loadReportingInterval is { } interval)
        {
            arguments.Add("--load-reporting-interval-ms");
            arguments.Add(((int)interval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        }

        return Start(arguments);
    }

    /// <summary>Starts <c>serve</c> with <paramref name="serveArguments"/> (see <see cref="ServeMode"/>).</summary>
    public static ControlPlaneProcess Start(IReadOnlyList<string> serveArguments)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.FileName = self;
            start.ArgumentList.Add(typeof(ControlPlaneProcess).Assembly.Location);
        }
        else
        {
            start.FileName = self;
        }

        start.ArgumentList.Add("serve");
        foreach (var argument in serveArguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        Uri? xds = null;
        var grpcPort = 0;
        while (xds is null)
        {
            var line = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the control plane process ended before it listened");
            var parts = line.Split(' ');
            if (parts[0] == "backend")
            {
                grpcPort = int.Parse(parts[1], CultureInfo.InvariantCulture);
            }
            else if (parts[0] == "xds")
            {
                xds = new Uri(parts[1]);
            }
        }

        return new ControlPlaneProcess(process, xds, grpcPort);
    }

    /// <summary>User + system CPU time of the child so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Resident set size now (VmRSS).</summary>
    public long ResidentBytes
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    /// <summary>Peak resident set size (VmHWM).</summary>
    public long PeakResidentBytes
    {
        get
        {
            _process.Refresh();
            return _process.PeakWorkingSet64;
        }
    }

    /// <summary>Asks the child for its managed heap after a full, compacting collection.</summary>
    public long ManagedHeapBytes()
    {
        _process.StandardInput.WriteLine("mem");
        _process.StandardInput.Flush();
        var line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the control plane process ended");
        return long.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Stops the child (as <see cref="Dispose"/>) and says how many error and warning lines it logged.</summary>
    public (int Errors, int Warnings) Stop()
    {
        Dispose();
        return (Volatile.Read(ref _errors), Volatile.Read(ref _warnings));
    }

    /// <summary>Asks the child how many bytes it has allocated since it started (all threads, precise).</summary>
    public long AllocatedBytes()
    {
        lock (_process)
        {
            _process.StandardInput.WriteLine("alloc");
            _process.StandardInput.Flush();
            var line = _process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the control plane process ended");
            return long.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(10_000))
            {
                _process.Kill();
            }
        }
        finally
        {
            _process.Dispose();
        }
    }
}
