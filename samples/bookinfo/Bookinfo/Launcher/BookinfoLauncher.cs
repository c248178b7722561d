using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Mesh.ControlPlane;

namespace Bookinfo.Launcher;

/// <summary>
/// <c>Bookinfo launch</c>: the whole sample on this machine. Starts the Mesh control plane on a live configuration
/// directory, every service as a child process on a loopback port with its own xDS bootstrap, writes where they listen
/// into the configuration (a ServiceEntry per service), waits until the product page renders, and prints where to look.
/// Ctrl+C (or SIGTERM) stops everything; if the launcher is killed outright, the services see their stdin close and stop.
/// </summary>
/// <remarks>
/// The control plane runs inside the launcher process — the same <see cref="ControlPlaneHost"/> the
/// <c>mesh-controlplane</c> tool runs, with the same options — so that it cannot outlive the launcher either.
/// </remarks>
internal static partial class BookinfoLauncher
{
    /// <summary>The namespace every sample service is in.</summary>
    public const string Namespace = "default";

    /// <summary>The file the launcher writes into the configuration directory: a ServiceEntry per service.</summary>
    public const string ServicesFile = "services.yaml";

    /// <summary>The file <c>samples/bookinfo/scenario</c> writes; removed at start so every run begins from the base.</summary>
    public const string ScenarioFile = "scenario.yaml";

    private const string ServedByMarker = "Reviews served by ";

    private const string LauncherUsage = """
        Usage: Bookinfo launch [--config-dir DIR] [--productpage-port PORT] [--xds-port PORT] [--http-port PORT] [...]

          --config-dir DIR         the live configuration directory: the launcher copies the sample's base configuration
                                   into it and writes services.yaml; scenarios are applied by copying YAML into it
                                   (default: a new temporary directory)
          --productpage-port PORT  the product page's port, 0 for any free port (default 9080)
          --gateway-port PORT      the ingress gateway's port (the Gateway server port 8080 of bookinfo-gateway.yaml),
                                   0 for any free port (default 8080)
          --no-traffic             send no background traffic (by default the launcher loads the product page every
                                   0.5 s, so the dashboard's graph shows traffic)
          --prometheus-config FILE where to write a Prometheus configuration that scrapes every service's metrics
                                   endpoint every second (default: DIR-prometheus.yml, beside the configuration)
          other options            passed to the control plane (see mesh-controlplane --help); its --xds-port and
                                   --http-port default to 15010 and 15014; load reporting is on (--load-reporting
                                   false turns it off), every second, so the dashboard's rates follow quickly
        """;

    // The services of the sample: (role, versions).
    private static readonly (string Role, string[] Versions)[] Services =
    [
        ("details", ["v1"]),
        ("ratings", ["v1"]),
        ("reviews", ["v1", "v2", "v3"]),
        ("productpage", ["v1"]),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["--help" or "-h"])
        {
            Console.WriteLine(LauncherUsage);
            return 0;
        }

        string? configDir = null;
        string? prometheusConfig = null;
        var productpagePort = 9080;
        var gatewayPort = 8080;
        var controlPlaneArgs = new List<string>();
        var traffic = true;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--no-traffic")
            {
                traffic = false;
                continue;
            }

            if (args[i] == "--gateway-port" && i + 1 < args.Length)
            {
                if (!int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out gatewayPort) || gatewayPort > 65535)
                {
                    await Console.Error.WriteLineAsync($"bookinfo: '--gateway-port {args[i]}': a port is a number from 0 to 65535.");
                    return 2;
                }

                continue;
            }

            if (args[i] is "--config-dir" or "--productpage-port" or "--prometheus-config" && i + 1 < args.Length)
            {
                if (args[i] == "--config-dir")
                {
                    configDir = Path.GetFullPath(args[++i]);
                }
                else if (args[i] == "--prometheus-config")
                {
                    prometheusConfig = Path.GetFullPath(args[++i]);
                }
                else if (!int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out productpagePort) || productpagePort > 65535)
                {
                    await Console.Error.WriteLineAsync($"bookinfo: '--productpage-port {args[i]}': a port is a number from 0 to 65535.");
                    return 2;
                }
            }
            else
            {
                controlPlaneArgs.Add(args[i]);
            }
        }

        // Load reports feed the dashboard: on unless the command line says otherwise, every second so rates follow quickly.
        var options = new ControlPlaneOptions { LoadReporting = true, LoadReportingInterval = TimeSpan.FromSeconds(1) };
        if (ControlPlaneHost.ParseArguments(controlPlaneArgs, options) is { } error)
        {
            await Console.Error.WriteLineAsync("bookinfo: " + error);
            await Console.Error.WriteLineAsync(LauncherUsage);
            return 2;
        }

        // The sample's services fetch xDS over plaintext with their labels in node metadata: the control plane's
        // development mode serves them their inbound listeners on that claim (see docs/security.md).
        options.InsecureIdentityFromMetadata = true;
        configDir ??= Path.Combine(Path.GetTempPath(), "bookinfo-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        options.ConfigDir = configDir;
        prometheusConfig ??= PrometheusConfigFor(configDir);
        PrepareConfigDirectory(configDir);

        // The mesh's CA lives next to the configuration (not in it: the control plane watches that directory), and
        // persists across runs unless --ca-dir says otherwise.
        options.CaDir ??= CaDirectoryFor(configDir);

        using var stopping = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);

        var controlPlane = ControlPlaneHost.Build(options, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            builder.Logging.AddFilter("Grpc", LogLevel.Warning);

            // The launcher decides when the control plane stops (after the services), not its own Ctrl+C handler.
            builder.Services.AddSingleton<IHostLifetime, LauncherLifetime>();
        });
        try
        {
            await controlPlane.StartAsync(stopping.Token);
        }
        catch (IOException ex)
        {
            await Console.Error.WriteLineAsync("bookinfo: the control plane cannot listen: " + ex.Message);
            return 1;
        }

        var (xds, http) = ControlPlaneHost.GetAddresses(controlPlane);
        var identity = WorkloadIdentity.Prepare(controlPlane, options);
        var children = new List<ServiceProcess>();
        var exitCode = 0;
        var background = Task.CompletedTask;
        try
        {
            foreach (var (role, versions) in Services)
            {
                foreach (var version in versions)
                {
                    var port = role == "productpage" ? productpagePort : 0;
                    children.Add(ServiceProcess.Start(role, version, port, Bootstrap(xds, role, version, identity)));
                }
            }

            var addresses = new Dictionary<string, Uri>();
            var metrics = new List<(string Workload, Uri Url)>();
            foreach (var child in children)
            {
                addresses[child.Workload] = await child.Listening.WaitAsync(TimeSpan.FromSeconds(60), stopping.Token);
                metrics.Add((child.Workload, await child.Metrics.WaitAsync(TimeSpan.FromSeconds(10), stopping.Token)));
            }

            WriteAtomically(prometheusConfig, PrometheusConfiguration.Write(Namespace, metrics));

            // Services first, then the rules that refer to them: every state the control plane sees is valid.
            WriteAtomically(Path.Combine(configDir, ServicesFile), ServiceEntries(addresses));
            CopyBaseConfiguration(configDir);
            var productpage = new Uri(addresses["productpage-v1"], "/productpage");
            await WaitUntilReadyAsync(productpage, stopping.Token);

            // The ingress gateway, once bookinfo-gateway.yaml is in place: the way in, as in Istio's tasks.
            var gateway = ServiceProcess.Start("gateway", "v1", gatewayPort, GatewayBootstrap(xds, identity));
            children.Add(gateway);
            var gatewayPage = new Uri(await gateway.Listening.WaitAsync(TimeSpan.FromSeconds(60), stopping.Token), "/productpage");
            await WaitUntilReadyAsync(gatewayPage, stopping.Token);

            var debug = new Uri(http, "/debug/");
            Console.WriteLine($"""

                Bookinfo is ready.
                  open           {gatewayPage}   (through the ingress gateway, as in Istio's tasks)
                  productpage    {productpage}   (productpage itself, outside the gateway)
                  control plane  xDS {xds.Authority}
                  CA             {ControlPlaneHost.GetTlsAddress(controlPlane).Authority}  (root: {identity.RootFile})
                  dashboard      {new Uri(http, "/dashboard")}
                  debug          {debug}syncz
                                 {debug}configz
                                 {debug}config_dump?node={NodeId("productpage", "v1")}
                  config         {configDir}
                  metrics        {string.Join("\n                 ", metrics.Select(m => $"{m.Workload,-14} {m.Url}"))}
                  prometheus     prometheus --config.file={prometheusConfig}   (scrapes them all every second)
                Apply a scenario with: samples/bookinfo/scenario apply all-v1   (list: samples/bookinfo/scenario list)
                {(traffic ? "Background traffic: the product page is loaded every 0.5 s (--no-traffic turns it off).\n" : "")}Press Ctrl+C to stop.

                """);
            if (traffic)
            {
                background = SendBackgroundTrafficAsync(gatewayPage, stopping.Token);
            }

            var exited = Task.WhenAny(children.Select(c => c.Exited));
            var finished = await Task.WhenAny(exited, Task.Delay(Timeout.Infinite, stopping.Token));
            if (finished == exited)
            {
                var child = children.First(c => c.Exited.IsCompleted);
                await Console.Error.WriteLineAsync($"bookinfo: {child.Workload} ended (exit code {child.ExitCode}); stopping the sample.");
                exitCode = 1;
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or HttpRequestException)
        {
            await Console.Error.WriteLineAsync("bookinfo: " + ex.Message);
            exitCode = 1;
        }
        finally
        {
            Console.WriteLine("Stopping Bookinfo...");
            await stopping.CancelAsync();
            await background;
            await Task.WhenAll(children.Select(c => c.DisposeAsync().AsTask()));
            await controlPlane.StopAsync();
            await controlPlane.DisposeAsync();
            Console.WriteLine("Bookinfo stopped.");
        }

        return exitCode;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopping.Cancel();
        }
    }

    /// <summary>The CA directory the launcher uses for a configuration directory: beside it, named <c>&lt;dir&gt;-ca</c>.</summary>
    public static string CaDirectoryFor(string configDir)
    {
        var full = Path.GetFullPath(configDir).TrimEnd(Path.DirectorySeparatorChar);
        return full + "-ca";
    }

    /// <summary>The Prometheus configuration the launcher writes for a configuration directory: <c>&lt;dir&gt;-prometheus.yml</c>.</summary>
    public static string PrometheusConfigFor(string configDir) => Path.GetFullPath(configDir).TrimEnd(Path.DirectorySeparatorChar) + "-prometheus.yml";

    /// <summary>The node id of a workload, <c>productpage-v1.default</c> (a pod name and its namespace).</summary>
    public static string NodeId(string role, string version) => $"{role}-{version}.{Namespace}";

    /// <summary>
    /// The gRPC xDS bootstrap of one workload. Node metadata carries its namespace (short names like <c>reviews</c>
    /// resolve in it) and, as Istio's does, its service account, workload name and labels: the workload identity is
    /// <c>spiffe://cluster.local/ns/default/sa/SERVICE_ACCOUNT</c>.
    /// </summary>
    public static string Bootstrap(Uri xds, string role, string version, WorkloadIdentity identity)
    {
        var bootstrap = new JsonObject
        {
            ["xds_servers"] = new JsonArray(new JsonObject
            {
                ["server_uri"] = xds.Authority,
                ["channel_creds"] = new JsonArray(new JsonObject { ["type"] = "insecure" }),
                ["server_features"] = new JsonArray("xds_v3"),
            }),
            ["node"] = new JsonObject
            {
                ["id"] = NodeId(role, version),
                ["metadata"] = new JsonObject
                {
                    ["NAMESPACE"] = Namespace,
                    ["SERVICE_ACCOUNT"] = role,
                    ["WORKLOAD_NAME"] = role + "-" + version,
                    ["LABELS"] = new JsonObject { ["app"] = role, ["version"] = version },
                },
            },

            // The workload's certificate: from the control plane's CA, proven with a join token for its service account.
            ["certificate_providers"] = identity.CertificateProviders(Namespace, role),
            ["server_listener_resource_name_template"] = "grpc/server?xds.resource.listening_address=%s",
        };
        return bootstrap.ToJsonString();
    }

    /// <summary>
    /// The bootstrap of the ingress gateway workload: labels <c>istio: ingressgateway</c> (what bookinfo-gateway's
    /// selector names) and the service account <c>istio-ingressgateway</c>, whose certificate it presents upstream.
    /// </summary>
    public static string GatewayBootstrap(Uri xds, WorkloadIdentity identity)
    {
        var bootstrap = JsonNode.Parse(Bootstrap(xds, "gateway", "v1", identity))!.AsObject();
        var node = bootstrap["node"]!.AsObject();
        node["id"] = "istio-ingressgateway-v1." + Namespace;
        var metadata = node["metadata"]!.AsObject();
        metadata["SERVICE_ACCOUNT"] = "istio-ingressgateway";
        metadata["WORKLOAD_NAME"] = "istio-ingressgateway";
        metadata["LABELS"] = new JsonObject { ["istio"] = "ingressgateway", ["app"] = "istio-ingressgateway" };
        bootstrap["certificate_providers"] = identity.CertificateProviders(Namespace, "istio-ingressgateway");
        bootstrap.Remove("server_listener_resource_name_template");
        return bootstrap.ToJsonString();
    }

    // A fresh start: no scenario, no endpoints of an earlier run.
    private static void PrepareConfigDirectory(string configDir)
    {
        Directory.CreateDirectory(configDir);
        File.Delete(Path.Combine(configDir, ScenarioFile));
        File.Delete(Path.Combine(configDir, ServicesFile));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "config"), "*.yaml"))
        {
            File.Delete(Path.Combine(configDir, Path.GetFileName(file)));
        }
    }

    // The sample's base configuration (config/*.yaml next to the program): the DestinationRules.
    private static void CopyBaseConfiguration(string configDir)
    {
        foreach (var file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "config"), "*.yaml"))
        {
            WriteAtomically(Path.Combine(configDir, Path.GetFileName(file)), File.ReadAllText(file));
        }
    }

    // One ServiceEntry per service, with each version's endpoint and labels, and its service account.
    private static string ServiceEntries(Dictionary<string, Uri> addresses)
    {
        var yaml = new StringBuilder("# Written by the Bookinfo launcher: where each service listens on this machine (ports chosen at start).\n");
        foreach (var (role, versions) in Services)
        {
            var protocol = role == "productpage" ? "HTTP" : "GRPC";
            var portName = role == "productpage" ? "http" : "grpc";
            yaml.Append(CultureInfo.InvariantCulture, $"""
                ---
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata:
                  name: {role}
                  namespace: {Namespace}
                spec:
                  hosts: [{role}.{Namespace}.svc.cluster.local]
                  location: MESH_INTERNAL
                  resolution: STATIC
                  ports:
                  - {"{"}number: 9080, name: {portName}, protocol: {protocol}{"}"}
                  endpoints:

                """);
            foreach (var version in versions)
            {
                var address = addresses[role + "-" + version];
                yaml.Append(CultureInfo.InvariantCulture,
                    $"  - {{address: {address.Host}, ports: {{{portName}: {address.Port}}}, labels: {{app: {role}, version: {version}}}, serviceAccount: {role}}}\n");
            }
        }

        return yaml.ToString();
    }

    // Ready when the page renders without errors. Then a few more loads, until every reviews version has served it
    // once (with no routing rules, reviews calls go round robin over v1, v2 and v3): by then every service has made its
    // first calls through the mesh, so the first pages a user loads are not the ones paying for start-up.
    private static async Task WaitUntilReadyAsync(Uri productpage, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var servedBy = new HashSet<string>(StringComparer.Ordinal);
        string? last = null;
        for (var attempt = 0; attempt < 120; attempt++)
        {
            try
            {
                var html = await http.GetStringAsync(productpage, cancellationToken);
                var marker = html.IndexOf(ServedByMarker, StringComparison.Ordinal);
                if (marker >= 0 && !html.Contains("currently unavailable", StringComparison.Ordinal))
                {
                    var start = marker + ServedByMarker.Length;
                    servedBy.Add(html[start..html.IndexOf('<', start)]);
                    break;
                }

                last = "the page still reports a service unavailable";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = "the page took longer than 10 s";
            }

            await Task.Delay(500, cancellationToken);
        }

        if (servedBy.Count == 0)
        {
            throw new TimeoutException($"the product page at {productpage} did not come up within 60 s: {last}");
        }

        for (var attempt = 0; attempt < 12 && servedBy.Count < 3; attempt++)
        {
            try
            {
                var html = await http.GetStringAsync(productpage, cancellationToken);
                var marker = html.IndexOf(ServedByMarker, StringComparison.Ordinal);
                if (marker >= 0)
                {
                    var start = marker + ServedByMarker.Length;
                    servedBy.Add(html[start..html.IndexOf('<', start)]);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Warming up only: the page already worked.
            }
        }
    }

    // A little traffic so the dashboard's graph is never empty: one product page load every 0.5 s, failures ignored
    // (a scenario may make the page fail on purpose).
    private static async Task SendBackgroundTrafficAsync(Uri productpage, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    using var response = await http.GetAsync(productpage, cancellationToken);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    // The next load tries again.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static void WriteAtomically(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    private sealed class LauncherLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
