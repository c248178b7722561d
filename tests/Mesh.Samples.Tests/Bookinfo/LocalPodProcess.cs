using System.Diagnostics;
using Mesh.Testing;
using Mesh.Testing.Kubernetes;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>
/// A container of a pod run as a local Bookinfo process, with the environment and files the pod spec prescribes
/// (<see cref="FakeKubelet"/>). Two things a node would give it are emulated, and said so: paths inside the container are
/// its mounts' local directories, and the control plane's Service name resolves to its loopback address (cluster DNS
/// and kube-proxy); its port is chosen by the OS (a pod has its own network namespace; processes on one machine do not).
/// </summary>
internal sealed class LocalPodProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private LocalPodProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    /// <summary>Where the service listens, once it said so.</summary>
    public Task<Uri> Listening => _listening.Task;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public static LocalPodProcess Start(string podName, FakeContainer container, IReadOnlyDictionary<string, string> serviceAddresses)
    {
        string Localize(string value)
        {
            foreach (var (mountPath, local) in container.Mounts.OrderByDescending(m => m.Key.Length))
            {
                value = value.Replace(mountPath + "/", local + "/", StringComparison.Ordinal);
            }

            foreach (var (service, address) in serviceAddresses)
            {
                value = value.Replace(service, address, StringComparison.Ordinal);
            }

            return value;
        }

        var dll = Path.Combine(RepositoryRoot.Path, "samples", "bookinfo", "Bookinfo", "bin", RepositoryRoot.Configuration, "net10.0", "Bookinfo.dll");
        var start = new ProcessStartInfo(Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        var args = container.Arguments.ToList();
        for (var i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == "--port")
            {
                args[i + 1] = "0";
            }
            else if (args[i] == "--listen")
            {
                args[i + 1] = "127.0.0.1";
            }
        }

        foreach (var argument in args.Concat(["--metrics-port", "0", "--stop-with-stdin"]))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("GRPC_XDS_", StringComparison.Ordinal) || k.StartsWith("OTEL_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in container.Environment)
        {
            start.Environment[name] = Localize(value);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var pod = new LocalPodProcess(podName, process);
        process.OutputDataReceived += (_, e) => pod.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => pod.OnLine(e.Data);
        process.Exited += (_, _) => pod._listening.TrySetException(new InvalidOperationException($"{podName} ended before it listened:\n{pod.Output}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return pod;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }

        const string Listening = "bookinfo: listening on ";
        if (line.StartsWith(Listening, StringComparison.Ordinal) && Uri.TryCreate(line[Listening.Length..].Trim(), UriKind.Absolute, out var address))
        {
            _listening.TrySetResult(address);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
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

        _process.Dispose();
    }
}
