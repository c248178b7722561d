using System.Diagnostics;
using Bookinfo.Hosting;

namespace Bookinfo.Launcher;

/// <summary>
/// One Bookinfo service running as a child process of the launcher. Its output is forwarded with the workload's name in
/// front; its stdin stays open for as long as the launcher lives (the service stops when it closes).
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Uri> _metrics = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServiceProcess(string role, string version, Process process)
    {
        Role = role;
        Version = version;
        _process = process;
    }

    public string Role { get; }

    public string Version { get; }

    public string Workload => Role + "-" + Version;

    /// <summary>The address the service listens on, once it printed it; fails if the process ends first.</summary>
    public Task<Uri> Listening => _listening.Task;

    /// <summary>The URL of the service's Prometheus endpoint, once it printed it; fails if the process ends first.</summary>
    public Task<Uri> Metrics => _metrics.Task;

    /// <summary>Completes when the process has ended.</summary>
    public Task Exited => _process.WaitForExitAsync();

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <c>Bookinfo ROLE --version VERSION --port PORT --metrics-port 0 --stop-with-stdin</c> with its own xDS bootstrap.</summary>
    public static ServiceProcess Start(string role, string version, int port, string bootstrapJson)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Run the same program the launcher is: `dotnet Bookinfo.dll` or the Bookinfo executable.
        var host = Environment.ProcessPath!;
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(ServiceProcess).Assembly.Location);
        }

        start.FileName = host;
        foreach (var argument in new[] { role, "--version", version, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--metrics-port", "0", "--stop-with-stdin" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["GRPC_XDS_BOOTSTRAP_CONFIG"] = bootstrapJson;
        start.Environment.Remove("GRPC_XDS_BOOTSTRAP");
        start.Environment["DOTNET_NOLOGO"] = "1";

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var service = new ServiceProcess(role, version, process);
        process.OutputDataReceived += (_, e) => service.OnOutput(e.Data, Console.Out);
        process.ErrorDataReceived += (_, e) => service.OnOutput(e.Data, Console.Error);
        process.Exited += (_, _) =>
        {
            service._listening.TrySetException(new InvalidOperationException($"{service.Workload} ended (exit code {process.ExitCode}) before it listened"));
            service._metrics.TrySetException(new InvalidOperationException($"{service.Workload} ended (exit code {process.ExitCode}) before its metrics endpoint listened"));
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    private void OnOutput(string? line, TextWriter writer)
    {
        if (line is null)
        {
            return;
        }

        if (line.StartsWith(BookinfoServer.ListeningLine, StringComparison.Ordinal)
            && Uri.TryCreate(line[BookinfoServer.ListeningLine.Length..].Trim(), UriKind.Absolute, out var address))
        {
            _listening.TrySetResult(address);
        }

        if (line.StartsWith(MetricsEndpoint.ListeningLine, StringComparison.Ordinal)
            && Uri.TryCreate(line[MetricsEndpoint.ListeningLine.Length..].Trim(), UriKind.Absolute, out var metrics))
        {
            _metrics.TrySetResult(metrics);
        }

        writer.WriteLine($"[{Workload}] {line}");
    }

    /// <summary>Stops the service: closes its stdin (it shuts down cleanly), and kills it if it has not ended after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5));
        _process.Dispose();
    }
}
