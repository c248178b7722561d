using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Bookinfo.Reviews;
using Grpc.Net.ClientFactory;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>
/// The Bookinfo sample started as the README starts it — <c>./run.sh</c> — with its own temporary configuration
/// directory and free loopback ports. Scenarios are applied with the sample's own <c>scenario</c> command. Disposing
/// stops the launcher (SIGTERM, then the whole process tree) and deletes the directory.
/// </summary>
public sealed partial class BookinfoSample : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(150);

    private readonly Process _launcher;
    private readonly StringBuilder _output;
    private readonly HttpClient _anonymous;
    private readonly Dictionary<string, HttpClient> _signedIn = [];

    private BookinfoSample(Process launcher, StringBuilder output, string configDir, Uri productPage, Uri xds, Uri debug, Uri ca)
    {
        _launcher = launcher;
        _output = output;
        ConfigDir = configDir;
        CaAddress = ca;
        ProductPage = productPage;
        XdsAddress = xds;
        DebugAddress = debug;
        _anonymous = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The live configuration directory the control plane serves.</summary>
    public string ConfigDir { get; }

    /// <summary>The control plane's CA (its TLS port).</summary>
    public Uri CaAddress { get; }

    /// <summary>The CA directory the launcher keeps beside the configuration directory.</summary>
    public string CaDir => ConfigDir.TrimEnd(Path.DirectorySeparatorChar) + "-ca";

    /// <summary>The product page, like <c>http://127.0.0.1:41234/productpage</c>.</summary>
    public Uri ProductPage { get; }

    /// <summary>The control plane's xDS address, like <c>http://127.0.0.1:40001</c>.</summary>
    public Uri XdsAddress { get; }

    /// <summary>The control plane's debug address, like <c>http://127.0.0.1:40002/debug/</c>.</summary>
    public Uri DebugAddress { get; }

    /// <summary>The Prometheus configuration the launcher wrote: every service's metrics endpoint, scraped every second.</summary>
    public string PrometheusConfig => ConfigDir.TrimEnd(Path.DirectorySeparatorChar) + "-prometheus.yml";

    /// <summary>The product page through the ingress gateway (the launcher's <c>open</c> line).</summary>
    public Uri GatewayPage => new(GatewayLine().Match(Output).Groups[1].Value);

    /// <summary>The launcher's process id.</summary>
    public int LauncherProcessId => _launcher.Id;

    /// <summary>Everything the launcher printed so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Runs <c>./run.sh --no-build</c> (the build is test.sh's), with <paramref name="extraArguments"/> for the control plane
    /// (e.g. <c>--load-reporting true</c>), and waits until it prints that Bookinfo is ready; <paramref name="environment"/>
    /// is added to the launcher's environment, which its services inherit.
    /// </summary>
    public static async Task<BookinfoSample> StartAsync(IReadOnlyList<string>? extraArguments = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var configDir = Path.Combine(Path.GetTempPath(), "bookinfo-test-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "./run.sh", "--no-build", "--config-dir", configDir, "--productpage-port", "0", "--gateway-port", "0", "--xds-port", "0", "--http-port", "0", "--tls-port", "0",
        })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var argument in extraArguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["CONFIGURATION"] = RepositoryRoot.Configuration;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var output = new StringBuilder();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var launcher = new Process { StartInfo = start, EnableRaisingEvents = true };
        launcher.OutputDataReceived += (_, e) => OnLine(e.Data);
        launcher.ErrorDataReceived += (_, e) => OnLine(e.Data);
        launcher.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("the launcher ended before Bookinfo was ready"));
        launcher.Start();
        launcher.BeginOutputReadLine();
        launcher.BeginErrorReadLine();

        try
        {
            await ready.Task.WaitAsync(StartTimeout);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            Kill(launcher);
            throw new InvalidOperationException($"Bookinfo did not start: {ex.Message}\n{Read()}", ex);
        }

        var text = Read();
        var sample = new BookinfoSample(
            launcher,
            output,
            configDir,
            new Uri(ProductPageLine().Match(text).Groups[1].Value),
            new Uri("http://" + XdsLine().Match(text).Groups[1].Value),
            new Uri(DebugLine().Match(text).Groups[1].Value),
            new Uri("https://" + CaLine().Match(text).Groups[1].Value));
        return sample;

        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(line);
            }

            if (line.StartsWith("Press Ctrl+C to stop.", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }

        string Read()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>
    /// Applies scenarios with <c>samples/bookinfo/scenario apply NAME...</c>, then waits until the control plane has
    /// loaded the new configuration and every connected service has acknowledged what it was sent.
    /// </summary>
    public async Task ApplyScenarioAsync(params string[] names)
    {
        await RunScenarioCommandAsync(["apply", .. names]);
    }

    /// <summary>Removes the applied scenario (<c>samples/bookinfo/scenario reset</c>) and waits as <see cref="ApplyScenarioAsync"/> does.</summary>
    public async Task ResetScenarioAsync()
    {
        await RunScenarioCommandAsync(["reset"]);
    }

    /// <summary>Loads the product page, signed in as <paramref name="user"/> (through the page's sign-in form) or anonymously.</summary>
    public async Task<string> LoadPageAsync(string? user = null)
    {
        var client = user is null ? _anonymous : await SignInAsync(user);
        using var response = await client.GetAsync(ProductPage);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {ProductPage} -> {(int)response.StatusCode}: {html}");
        return html;
    }

    /// <summary>
    /// A gRPC client for reviews (<c>xds:///reviews:9080</c>) in a process-local mesh client that presents itself as a
    /// workload of <paramref name="serviceAccount"/> — for calling a service directly, not through productpage, as a
    /// given identity would (the sample's security scenario refuses every identity but productpage).
    /// </summary>
    public ServiceProvider CreateMeshClientAs(string serviceAccount, out Reviews.ReviewsClient reviews)
    {
        var bootstrap = new JsonObject
        {
            ["xds_servers"] = new JsonArray(new JsonObject
            {
                ["server_uri"] = XdsAddress.Authority,
                ["channel_creds"] = new JsonArray(new JsonObject { ["type"] = "insecure" }),
                ["server_features"] = new JsonArray("xds_v3"),
            }),
            ["node"] = new JsonObject
            {
                ["id"] = $"{serviceAccount}-test-{Guid.NewGuid():N}.default",
                ["metadata"] = new JsonObject
                {
                    ["NAMESPACE"] = "default",
                    ["SERVICE_ACCOUNT"] = serviceAccount,
                    ["WORKLOAD_NAME"] = serviceAccount + "-test",
                },
            },

            // A workload certificate for the service account, from the sample's CA, proven with a join token as the
            // launcher's services are (the test has the CA's directory, so it can issue one, like `token create`).
            ["certificate_providers"] = new JsonObject
            {
                ["default"] = new JsonObject
                {
                    ["plugin_name"] = "mesh_ca",
                    ["config"] = new JsonObject
                    {
                        ["server_uri"] = CaAddress.GetLeftPart(UriPartial.Authority),
                        ["ca_certificate_file"] = Path.Combine(CaDir, "bookinfo-root.pem"),
                        ["token"] = CreateToken(serviceAccount),
                    },
                },
            },
        };
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMesh(o => o.BootstrapJson = bootstrap.ToJsonString());
        services.AddGrpcClient<Reviews.ReviewsClient>(o => o.Address = new Uri("xds:///reviews:9080"));
        var provider = services.BuildServiceProvider();
        reviews = provider.GetRequiredService<GrpcClientFactory>().CreateClient<Reviews.ReviewsClient>(nameof(Reviews.ReviewsClient));
        return provider;
    }

    /// <summary>The port a workload (like <c>reviews-v1</c>) listens on, from the ServiceEntries the launcher wrote.</summary>
    public int PortOf(string workload)
    {
        var dash = workload.LastIndexOf('-');
        var (app, version) = (workload[..dash], workload[(dash + 1)..]);
        var services = File.ReadAllText(Path.Combine(ConfigDir, "services.yaml"));
        var match = Regex.Match(services, $@"ports: \{{\w+: (\d+)\}}, labels: \{{app: {app}, version: {version}\}}");
        Assert.True(match.Success, $"{workload} is not in services.yaml");
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private string CreateToken(string serviceAccount)
    {
        using var authority = Mesh.ControlPlane.Security.CertificateAuthority.LoadOrCreate(CaDir, "cluster.local");
        return authority.CreateJoinToken("default", serviceAccount);
    }

    /// <summary>The process ids of the launcher's children (the services).</summary>
    public IReadOnlyList<int> ServiceProcessIds()
    {
        var children = new List<int>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{_launcher.Id}/task"))
        {
            var file = Path.Combine(task, "children");
            if (!File.Exists(file))
            {
                continue;
            }

            foreach (var pid in File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                children.Add(int.Parse(pid, CultureInfo.InvariantCulture));
            }
        }

        return children;
    }

    /// <summary>Kills the launcher process alone (SIGKILL, no chance to clean up), as an out-of-memory killer would.</summary>
    public async Task KillLauncherOnlyAsync()
    {
        _launcher.Kill(entireProcessTree: false);
        await _launcher.WaitForExitAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _anonymous.Dispose();
        foreach (var client in _signedIn.Values)
        {
            client.Dispose();
        }

        if (!_launcher.HasExited)
        {
            // As Ctrl+C would: the launcher stops the services and the control plane.
            using (var kill = Process.Start("kill", ["-TERM", _launcher.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _launcher.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        Kill(_launcher);
        _launcher.Dispose();
        File.Delete(PrometheusConfig);
        foreach (var directory in new[] { ConfigDir, CaDir })
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already ended.
        }
    }

    private async Task<HttpClient> SignInAsync(string user)
    {
        if (_signedIn.TryGetValue(user, out var client))
        {
            return client;
        }

        client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.PostAsync(new Uri(ProductPage, "/login"), new FormUrlEncodedContent([new("username", user)]));
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"sign-in as {user} -> {(int)response.StatusCode}");
        Assert.Contains($"Signed in as <strong class=\"user\">{user}</strong>", html, StringComparison.Ordinal);
        _signedIn[user] = client;
        return client;
    }

    private async Task RunScenarioCommandAsync(string[] arguments)
    {
        var before = await ConfigVersionAsync();
        var result = await CommandLine.RunAsync(
            "bash", ["samples/bookinfo/scenario", .. arguments, "--config-dir", ConfigDir], RepositoryRoot.Path, TimeSpan.FromSeconds(30));
        Assert.True(result.ExitCode == 0, "scenario " + string.Join(' ', arguments) + ": " + result.Output);
        await WaitForConfigurationAsync(before);
    }

    private async Task<long> ConfigVersionAsync()
    {
        var configz = JsonNode.Parse(await _anonymous.GetStringAsync(new Uri(DebugAddress, "configz")))!;
        return configz["version"]!.GetValue<long>();
    }

    // Loaded (the version moved past `before`), pushed, and acknowledged by every connected service — and settled: a
    // route to a cluster a service did not hold yet makes it subscribe to that cluster after acknowledging the route,
    // so "all acknowledged" must hold twice, a second apart, with nothing sent in between.
    private async Task WaitForConfigurationAsync(long before)
    {
        var deadline = Stopwatch.StartNew();
        var state = "";
        string? settled = null;
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (await ConfigVersionAsync() > before)
            {
                var syncz = await _anonymous.GetStringAsync(new Uri(DebugAddress, "syncz"));
                state = syncz;
                var snapshot = Acknowledged(JsonNode.Parse(syncz)!.AsArray());
                if (snapshot is not null && snapshot == settled)
                {
                    return;
                }

                settled = snapshot;
                await Task.Delay(TimeSpan.FromSeconds(1));
                continue;
            }

            state = await _anonymous.GetStringAsync(new Uri(DebugAddress, "configz"));
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }

        throw new TimeoutException($"the configuration did not reach the services within 30 s:\n{state}");
    }

    // What every client was sent (nonce per type), when every client has acknowledged all of it; otherwise null.
    private static string? Acknowledged(JsonArray clients)
    {
        var snapshot = new StringBuilder();
        foreach (var client in clients)
        {
            snapshot.Append(client!["nodeId"]).Append('|');
            foreach (var type in client["types"]!.AsArray())
            {
                if (type!["status"]?.GetValue<string>() != "ACKED" || type["ackedVersion"]?.ToString() != type["sentVersion"]?.ToString())
                {
                    return null;
                }

                snapshot.Append(type["typeUrl"]).Append('=').Append(type["sentNonce"]).Append(';');
            }
        }

        return snapshot.ToString();
    }

    /// <summary>
    /// Loads the page as <paramref name="user"/> until <paramref name="condition"/> holds (at most 20 s): for what a
    /// service applies a moment after its last acknowledgement. Returns the page that met it.
    /// </summary>
    public async Task<string> WaitForPageAsync(string? user, Func<string, bool> condition, string description)
    {
        var stopwatch = Stopwatch.StartNew();
        var html = "";
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(20))
        {
            html = await LoadPageAsync(user);
            if (condition(html))
            {
                return html;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        throw new TimeoutException($"the page as {user ?? "anonymous"} did not show {description} within 20 s; last page:\n{html}");
    }

    [GeneratedRegex(@"productpage\s+(http://\S+)")]
    private static partial Regex ProductPageLine();

    [GeneratedRegex(@"open\s+(http://\S+)")]
    private static partial Regex GatewayLine();

    [GeneratedRegex(@"control plane\s+xDS\s+(\S+)")]
    private static partial Regex XdsLine();

    [GeneratedRegex(@"CA\s+(\S+)\s+\(root")]
    private static partial Regex CaLine();

    [GeneratedRegex(@"debug\s+(http://\S+/debug/)syncz")]
    private static partial Regex DebugLine();
}
