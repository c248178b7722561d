using System.Text.Json.Nodes;
using Mesh.ControlPlane;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>
/// A real Mesh control plane on 127.0.0.1 with ports chosen by the OS, serving a temporary directory of YAML
/// files that a test writes and edits. Disposing stops it and deletes the directory.
/// </summary>
public sealed class TestControlPlane : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestControlPlane(WebApplication app, string directory, Uri xds, Uri http, InMemoryLogSink logs)
    {
        _app = app;
        Directory = directory;
        XdsAddress = xds;
        HttpAddress = http;
        Logs = logs;
        Http = new HttpClient { BaseAddress = http };
    }

    /// <summary>The configuration directory.</summary>
    public string Directory { get; }

    /// <summary>The ADS address, like <c>http://127.0.0.1:40123</c>.</summary>
    public Uri XdsAddress { get; }

    /// <summary>The debug HTTP address.</summary>
    public Uri HttpAddress { get; }

    /// <summary>An HTTP client for the debug endpoints.</summary>
    public HttpClient Http { get; }

    /// <summary>Everything the control plane logged.</summary>
    public InMemoryLogSink Logs { get; }

    /// <summary>The application's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Writes <paramref name="files"/> (name → YAML) into a new directory and starts a control plane on it.
    /// Pass an existing <paramref name="directory"/> to restart on the same files.
    /// </summary>
    public static async Task<TestControlPlane> StartAsync(IReadOnlyDictionary<string, string> files, string? directory = null, int xdsPort = 0)
    {
        directory ??= Path.Combine(Path.GetTempPath(), "mesh-test-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        foreach (var (name, yaml) in files)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, name), yaml).ConfigureAwait(false);
        }

        var logs = new InMemoryLogSink();
        var options = new ControlPlaneOptions
        {
            ConfigDir = directory,
            XdsPort = xdsPort,
            HttpPort = 0,
            DebounceQuiet = TimeSpan.FromMilliseconds(50),
            DebounceMax = TimeSpan.FromMilliseconds(500),
        };
        var app = ControlPlaneHost.Build(options, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddProvider(logs);
        });
        await app.StartAsync().ConfigureAwait(false);
        var (xds, http) = ControlPlaneHost.GetAddresses(app);
        return new TestControlPlane(app, directory, xds, http, logs);
    }

    /// <summary>
    /// Writes (or replaces) one file in the configuration directory atomically — written aside, then renamed over the
    /// old one, as editors and Kubernetes ConfigMap updates do — so the watcher never reads a half-written file.
    /// </summary>
    public async Task WriteFileAsync(string name, string yaml)
    {
        var temporary = Path.Combine(Path.GetTempPath(), $"mesh-write-{Guid.NewGuid():N}.tmp");
        await File.WriteAllTextAsync(temporary, yaml).ConfigureAwait(false);
        File.Move(temporary, Path.Combine(Directory, name), overwrite: true);
    }

    /// <summary>Deletes one file from the configuration directory.</summary>
    public void DeleteFile(string name) => File.Delete(Path.Combine(Directory, name));

    /// <summary>GETs a debug endpoint and parses its JSON.</summary>
    public async Task<JsonNode> GetJsonAsync(string path)
    {
        var text = await Http.GetStringAsync(path).ConfigureAwait(false);
        return JsonNode.Parse(text)!;
    }

    /// <summary>Stops the control plane but keeps the directory (to restart on it).</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
