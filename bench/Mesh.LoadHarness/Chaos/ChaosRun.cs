using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Security;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// The processes of a chaos run, all on loopback: two control-plane replicas sharing one configuration directory and
/// one CA directory (the client's bootstrap lists both: primary and gRFC A71 fallback), N mesh backends, one load client
/// with a persisted xDS cache; and the fault operations the driver applies to them. Every port is chosen once, so a
/// process restarted after a kill comes back where the configuration and the bootstraps say it is.
/// </summary>
internal sealed class ChaosRun : IAsyncDisposable
{
    public const string Target = "xds:///echo:9080";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    private readonly ChaosOptions _options;
    private readonly string _directory;
    private readonly string _configDir;
    private readonly string _caDir;
    private readonly (int Xds, int Tls, int Http)[] _controlPlanePorts;
    private readonly int[] _backendPorts;
    private readonly ChildProcess?[] _controlPlanes = new ChildProcess?[2];
    private readonly ChildProcess?[] _backends;
    private readonly List<ClientTick> _ticks = [];
    private readonly Lock _lock = new();
    private readonly string _rootFile;
    private readonly string _clientToken;
    private readonly string _backendToken;
    private ChildProcess? _client;
    private TaskCompletionSource<long> _firstOk = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _clientGeneration;

    private ChaosRun(ChaosOptions options, string directory)
    {
        _options = options;
        _directory = directory;
        _configDir = Path.Combine(directory, "config");
        _caDir = Path.Combine(directory, "ca");
        Logs = Path.Combine(directory, "logs");
        Directory.CreateDirectory(_configDir);
        Directory.CreateDirectory(Logs);
        _controlPlanePorts = [(FreePort(), FreePort(), FreePort()), (FreePort(), FreePort(), FreePort())];
        _backendPorts = Enumerable.Range(0, options.Backends).Select(_ => FreePort()).ToArray();
        _backends = new ChildProcess?[options.Backends];

        // The CA is created here (the control planes load the same directory), so the driver can mint the join tokens.
        using var authority = CertificateAuthority.LoadOrCreate(_caDir, "cluster.local");
        _rootFile = Path.Combine(directory, "root-cert.pem");
        File.WriteAllText(_rootFile, authority.RootCertificatePem);
        _clientToken = authority.CreateJoinToken("default", "chaos-client", TimeSpan.FromHours(24));
        _backendToken = authority.CreateJoinToken("default", "echo", TimeSpan.FromHours(24));
    }

    /// <summary>Where each process's standard error (its log) is written.</summary>
    public string Logs { get; }

    public static async Task<ChaosRun> StartAsync(ChaosOptions options)
    {
        var run = new ChaosRun(options, Path.Combine(Path.GetTempPath(), "mesh-chaos-" + Guid.NewGuid().ToString("N")[..8]));
        try
        {
            run.WriteConfig(ChaosYaml.ServiceEntryFile, ChaosYaml.ServiceEntry(run._backendPorts));
            run.WriteConfig(ChaosYaml.DestinationRuleFile, ChaosYaml.DestinationRule(mutualTls: false));
            run.WriteConfig(ChaosYaml.VirtualServiceFile, ChaosYaml.VirtualService(null));
            await Task.WhenAll(run.StartControlPlaneAsync(0), run.StartControlPlaneAsync(1)).ConfigureAwait(false);
            await Task.WhenAll(Enumerable.Range(0, options.Backends).Select(run.StartBackendAsync)).ConfigureAwait(false);
            await run.StartClientAsync().ConfigureAwait(false);
            await run._firstOk.Task.WaitAsync(StartTimeout).ConfigureAwait(false);
            return run;
        }
        catch
        {
            await run.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>The client's reports that completed in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public List<ClientTick> Ticks(long from, long to)
    {
        lock (_lock)
        {
            return _ticks.Where(t => t.UnixMs >= from && t.UnixMs < to).ToList();
        }
    }

    public bool ControlPlanesUp => _controlPlanes.All(c => c is { HasExited: false });

    // ---- configuration ----

    /// <summary>Replaces a configuration file atomically (written aside, renamed over the old one).</summary>
    public void WriteConfig(string name, string yaml)
    {
        var temporary = Path.Combine(_directory, $".{name}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, yaml);
        File.Move(temporary, Path.Combine(_configDir, name), overwrite: true);
    }

    public void DeleteConfig(string name) => File.Delete(Path.Combine(_configDir, name));

    // ---- control planes ----

    public void KillControlPlane(int index)
    {
        _controlPlanes[index]?.Kill();
        _controlPlanes[index]?.Dispose();
        _controlPlanes[index] = null;
    }

    public async Task StartControlPlaneAsync(int index)
    {
        var (xds, tls, http) = _controlPlanePorts[index];
        string[] args =
        [
            "chaos-cp", "--config-dir", _configDir, "--ca-dir", _caDir,
            "--xds-port", Invariant(xds), "--tls-port", Invariant(tls), "--http-port", Invariant(http),
            "--insecure-identity-from-metadata",
        ];
        var process = ChildProcess.Start($"control plane {index + 1}", args, new Dictionary<string, string>(), "ready", Path.Combine(Logs, $"cp{index + 1}.log"));
        _controlPlanes[index] = process;
        await process.WaitReadyAsync(StartTimeout).ConfigureAwait(false);
    }

    // ---- backends ----

    public void KillBackend(int index)
    {
        _backends[index]?.Kill();
        _backends[index]?.Dispose();
        _backends[index] = null;
    }

    public async Task StartBackendAsync(int index)
    {
        var version = ChaosYaml.Version(index);
        var environment = new Dictionary<string, string>
        {
            ["GRPC_XDS_BOOTSTRAP_CONFIG"] = Bootstrap($"echo-{index}.default", "echo", version, _backendToken),
            ["MESH_XDS_CACHE_DIR"] = Path.Combine(_directory, $"cache-echo-{index}"),
        };
        string[] args = ["chaos-backend", "--port", Invariant(_backendPorts[index]), "--version", version];
        var process = ChildProcess.Start($"backend {index}", args, environment, "ready", Path.Combine(Logs, $"echo-{index}.log"));
        _backends[index] = process;
        await process.WaitReadyAsync(StartTimeout).ConfigureAwait(false);
    }

    // ---- the load client ----

    /// <summary>Starts a client process (with the same node id and cache directory as every earlier one); returns at once.</summary>
    public Task StartClientAsync()
    {
        _firstOk = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var generation = ++_clientGeneration;
        var environment = new Dictionary<string, string>
        {
            ["GRPC_XDS_BOOTSTRAP_CONFIG"] = Bootstrap("chaos-client.default", "chaos-client", "v1", _clientToken),
            ["MESH_XDS_CACHE_DIR"] = Path.Combine(_directory, "cache-client"),
        };
        string[] args = ["chaos-client", "--rps", Invariant(_options.Rps), "--target", Target];
        var firstOk = _firstOk;
        _client = ChildProcess.Start($"client {generation}", args, environment, "started", Path.Combine(Logs, $"client-{generation}.log"), line =>
        {
            if (ClientTick.Parse(line) is { } tick)
            {
                lock (_lock)
                {
                    _ticks.Add(tick);
                }
            }
            else if (line.StartsWith("first-ok ", StringComparison.Ordinal))
            {
                firstOk.TrySetResult(long.Parse(line["first-ok ".Length..], CultureInfo.InvariantCulture));
            }
        });
        return _client.WaitReadyAsync(StartTimeout);
    }

    /// <summary>Stops the client cleanly (its calls in flight end and are reported) and starts a new one; returns the new one's milliseconds from start to first successful call, or null if none within the timeout.</summary>
    public async Task<long?> RestartClientAsync(TimeSpan firstOkTimeout)
    {
        if (_client is not null)
        {
            await _client.StopAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            _client.Dispose();
        }

        await StartClientAsync().ConfigureAwait(false);
        try
        {
            return await _firstOk.Task.WaitAsync(firstOkTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            _client.Dispose();
        }

        var stops = new List<Task>();
        foreach (var process in _backends.Concat(_controlPlanes))
        {
            if (process is not null)
            {
                stops.Add(process.StopAsync(TimeSpan.FromSeconds(10)));
            }
        }

        await Task.WhenAll(stops).ConfigureAwait(false);
        foreach (var process in _backends.Concat(_controlPlanes))
        {
            process?.Dispose();
        }
    }

    public void DeleteDirectory()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a log still open by a process that is going away: leave it to the temp cleaner
        }
    }

    // The bootstrap of a workload: both control planes (the second is the A71 fallback), its identity in the node
    // metadata, and its certificate from the first control plane's CA (used once PeerAuthentication asks for mTLS).
    private string Bootstrap(string nodeId, string app, string version, string token)
    {
        var servers = new JsonArray();
        foreach (var (xds, _, _) in _controlPlanePorts)
        {
            servers.Add(new JsonObject
            {
                ["server_uri"] = $"127.0.0.1:{xds}",
                ["channel_creds"] = new JsonArray(new JsonObject { ["type"] = "insecure" }),
                ["server_features"] = new JsonArray("xds_v3"),
            });
        }

        var bootstrap = new JsonObject
        {
            ["xds_servers"] = servers,
            ["node"] = new JsonObject
            {
                ["id"] = nodeId,
                ["cluster"] = "chaos",
                ["metadata"] = new JsonObject
                {
                    ["NAMESPACE"] = "default",
                    ["SERVICE_ACCOUNT"] = app,
                    ["LABELS"] = new JsonObject { ["app"] = app, ["version"] = version },
                },
            },
            ["certificate_providers"] = new JsonObject
            {
                ["default"] = new JsonObject
                {
                    ["plugin_name"] = "mesh_ca",
                    ["config"] = new JsonObject
                    {
                        ["server_uri"] = $"https://127.0.0.1:{_controlPlanePorts[0].Tls}",
                        ["ca_certificate_file"] = _rootFile,
                        ["token"] = token,
                        ["certificate_lifetime"] = Invariant(_options.CertificateSeconds) + "s",
                    },
                },
            },
            ["server_listener_resource_name_template"] = "grpc/server?xds.resource.listening_address=%s",
        };
        return bootstrap.ToJsonString();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
