using System.Diagnostics;
using Mesh.Testing.Kubernetes;

namespace Mesh.ControlPlane.Tests.Kubernetes;

/// <summary>Runs the real <c>kubectl</c> against a fake API server through a kubeconfig file.</summary>
internal sealed class Kubectl : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "mesh-kubectl-" + Guid.NewGuid().ToString("N"));

    public Kubectl(FakeKubernetesApiServer server)
    {
        Directory.CreateDirectory(_directory);
        KubeconfigPath = Path.Combine(_directory, "kubeconfig");
        File.WriteAllText(KubeconfigPath, server.CreateKubeconfig());
    }

    public string KubeconfigPath { get; }

    /// <summary>The repository root (where Mesh.sln is).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Mesh.sln")))
            {
                directory = directory.Parent;
            }

            return directory?.FullName ?? throw new InvalidOperationException("Mesh.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Runs kubectl with <paramref name="args"/>, <paramref name="input"/> on stdin; returns exit code, stdout and stderr.</summary>
    public async Task<(int Exit, string Output, string Error)> RunAsync(string? input, params string[] args)
    {
        var start = new ProcessStartInfo("kubectl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--kubeconfig");
        start.ArgumentList.Add(KubeconfigPath);
        start.ArgumentList.Add("--cache-dir");
        start.ArgumentList.Add(Path.Combine(_directory, "cache"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HOME"] = _directory;
        start.Environment.Remove("KUBECONFIG");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("kubectl " + string.Join(' ', args) + " did not finish in 60 s");
        }

        return (process.ExitCode, await output, await error);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
