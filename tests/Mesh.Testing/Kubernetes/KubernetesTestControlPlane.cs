using System.Text.Json.Nodes;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Kubernetes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing.Kubernetes;

/// <summary>
/// A real Mesh control plane on 127.0.0.1 (ports chosen by the OS) reading a <see cref="FakeKubernetesApiServer"/>
/// through a kubeconfig file (<c>--kubeconfig</c>), optionally with a YAML directory as well.
/// </summary>
public sealed class KubernetesTestControlPlane : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;
    private bool _stopped;

    private KubernetesTestControlPlane(WebApplication app, string directory, InMemoryLogSink logs)
    {
        _app = app;
        _directory = directory;
        Logs = logs;
        var (xds, http) = ControlPlaneHost.GetAddresses(app);
        TlsAddress = ControlPlaneHost.GetTlsAddress(app);
        XdsAddress = xds;
        HttpAddress = http;
        Http = new HttpClient { BaseAddress = http };
    }

    /// <summary>The ADS address.</summary>
    public Uri XdsAddress { get; }

    /// <summary>The TLS address (xDS over TLS and the CA).</summary>
    public Uri TlsAddress { get; }

    /// <summary>The injection webhook's address.</summary>
    public Uri WebhookAddress => _app.Services.GetRequiredService<Mesh.ControlPlane.Injection.InjectionWebhookServer>().Address!;

    /// <summary>The mesh CA.</summary>
    public Mesh.ControlPlane.Security.CertificateAuthority CertificateAuthority => _app.Services.GetRequiredService<Mesh.ControlPlane.Security.CertificateAuthority>();

    /// <summary>The debug HTTP address.</summary>
    public Uri HttpAddress { get; }

    /// <summary>A client for the debug endpoints.</summary>
    public HttpClient Http { get; }

    /// <summary>Everything the control plane logged.</summary>
    public InMemoryLogSink Logs { get; }

    /// <summary>The application's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The Kubernetes source.</summary>
    public KubernetesConfigSource Source => _app.Services.GetRequiredService<KubernetesConfigSource>();

    /// <summary>
    /// Starts a control plane on <paramref name="server"/>; <paramref name="yamlFiles"/> (name → YAML), when given, are
    /// served from a directory too. <paramref name="configure"/> adjusts the source's options (short retry times).
    /// </summary>
    public static async Task<KubernetesTestControlPlane> StartAsync(
        FakeKubernetesApiServer server,
        IReadOnlyDictionary<string, string>? yamlFiles = null,
        Action<KubernetesSourceOptions>? configure = null,
        Action<WebApplicationBuilder>? builder = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var directory = Path.Combine(Path.GetTempPath(), "mesh-k8s-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var kubeconfig = Path.Combine(directory, "kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, server.CreateKubeconfig()).ConfigureAwait(false);
        string? configDir = null;
        if (yamlFiles is not null)
        {
            configDir = Path.Combine(directory, "config");
            Directory.CreateDirectory(configDir);
            foreach (var (name, yaml) in yamlFiles)
            {
                await File.WriteAllTextAsync(Path.Combine(configDir, name), yaml).ConfigureAwait(false);
            }
        }

        var logs = new InMemoryLogSink();
        var options = new ControlPlaneOptions
        {
            ConfigDir = configDir,
            Kubernetes = true,
            Kubeconfig = kubeconfig,
            XdsPort = 0,
            HttpPort = 0,
            TlsPort = 0,
            WebhookPort = 0,
            CaDir = Path.Combine(directory, "ca"),
            DebounceQuiet = TimeSpan.FromMilliseconds(50),
            DebounceMax = TimeSpan.FromMilliseconds(300),
        };
        var app = ControlPlaneHost.Build(options, b =>
        {
            b.Logging.ClearProviders();
            b.Logging.SetMinimumLevel(LogLevel.Debug);
            b.Logging.AddProvider(logs);
            b.Services.Configure<KubernetesSourceOptions>(o =>
            {
                o.BackoffInitial = TimeSpan.FromMilliseconds(50);
                o.BackoffMax = TimeSpan.FromMilliseconds(500);
                o.RetryUnavailableKind = TimeSpan.FromMilliseconds(500);
                o.InitialSyncTimeout = TimeSpan.FromSeconds(10);
                configure?.Invoke(o);
            });
            builder?.Invoke(b);
        });
        await app.StartAsync().ConfigureAwait(false);
        return new KubernetesTestControlPlane(app, directory, logs);
    }

    /// <summary>GETs a debug endpoint and parses its JSON.</summary>
    public async Task<JsonNode> GetJsonAsync(string path) => JsonNode.Parse(await Http.GetStringAsync(path).ConfigureAwait(false))!;

    /// <summary>Stops the control plane (as a killed replica), keeping nothing running.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _app.StopAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
