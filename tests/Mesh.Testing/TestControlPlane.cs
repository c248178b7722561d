using System.Text.Json.Nodes;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>
/// A real Mesh control plane on 127.0.0.1 with ports chosen by the OS, serving a temporary directory of YAML
/// files that a test writes and edits. Disposing stops it and deletes the directory.
/// </summary>
public sealed class TestControlPlane : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly bool _ownsCaDirectory;

    private TestControlPlane(WebApplication app, string directory, Uri xds, Uri http, Uri tls, string caDirectory, bool ownsCaDirectory, InMemoryLogSink logs)
    {
        _app = app;
        Directory = directory;
        XdsAddress = xds;
        HttpAddress = http;
        TlsAddress = tls;
        CaDirectory = caDirectory;
        _ownsCaDirectory = ownsCaDirectory;
        Logs = logs;
        Http = new HttpClient { BaseAddress = http };
    }

    /// <summary>The configuration directory.</summary>
    public string Directory { get; }

    /// <summary>The ADS address, like <c>http://127.0.0.1:40123</c>.</summary>
    public Uri XdsAddress { get; }

    /// <summary>The TLS address (xDS over TLS and certificate signing), like <c>https://127.0.0.1:40125</c>.</summary>
    public Uri TlsAddress { get; }

    /// <summary>The CA directory (a temporary one unless the test passed its own).</summary>
    public string CaDirectory { get; }

    /// <summary>The control plane's certificate authority.</summary>
    public CertificateAuthority CertificateAuthority => _app.Services.GetRequiredService<CertificateAuthority>();

    /// <summary>The mesh root certificate as PEM: what workloads trust, and what verifies the TLS port.</summary>
    public string RootCertificatePem => CertificateAuthority.RootCertificatePem;

    /// <summary>Issues a join token proving <c>ns/<paramref name="namespace"/>/sa/<paramref name="serviceAccount"/></c> to this control plane's CA.</summary>
    public string CreateToken(string @namespace, string serviceAccount, TimeSpan? lifetime = null) =>
        CertificateAuthority.CreateJoinToken(@namespace, serviceAccount, lifetime);

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
    /// Pass an existing <paramref name="directory"/> to restart on the same files, and a <paramref name="caDirectory"/>
    /// to use (and keep) a given CA; by default a fresh CA is generated in a temporary directory deleted on dispose.
    /// </summary>
    public static async Task<TestControlPlane> StartAsync(
        IReadOnlyDictionary<string, string> files, string? directory = null, int xdsPort = 0, string? caDirectory = null, TimeProvider? time = null,
        Action<ControlPlaneOptions>? configure = null)
    {
        var ownsCaDirectory = caDirectory is null;
        caDirectory ??= Path.Combine(Path.GetTempPath(), "mesh-test-ca-" + Guid.NewGuid().ToString("N"));
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
            TlsPort = 0,
            CaDir = caDirectory,
            DebounceQuiet = TimeSpan.FromMilliseconds(50),
            DebounceMax = TimeSpan.FromMilliseconds(500),
        };
        configure?.Invoke(options);
        var app = ControlPlaneHost.Build(options, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddProvider(logs);
            if (time is not null)
            {
                builder.Services.AddSingleton(time);
            }
        });
        await app.StartAsync().ConfigureAwait(false);
        var (xds, http) = ControlPlaneHost.GetAddresses(app);
        return new TestControlPlane(app, directory, xds, http, ControlPlaneHost.GetTlsAddress(app), caDirectory, ownsCaDirectory, logs);
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

        if (_ownsCaDirectory)
        {
            try
            {
                System.IO.Directory.Delete(CaDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
