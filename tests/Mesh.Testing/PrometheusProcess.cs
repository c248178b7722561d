using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Mesh.Testing;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c> package, installed by test.sh) on loopback, scraping the given
/// targets every second (or with a configuration file of the caller's) into a temporary storage directory; stopped and
/// deleted on dispose. There is no fallback: without the binary the test fails and says how to install it. Prometheus
/// cannot listen on port 0, so a free loopback port is picked first.
/// </summary>
public sealed class PrometheusProcess : IDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    private readonly Process _process;
    private readonly string _directory;
    private readonly HttpClient _http = new();

    private PrometheusProcess(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        Address = address;
        _http.BaseAddress = address;
    }

    /// <summary>Where Prometheus answers, like <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri Address { get; }

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> (host:port, path /metrics) every second and waits until it is ready.</summary>
    public static async Task<PrometheusProcess> StartAsync(params string[] targets)
    {
        var directory = NewDirectory();
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $$"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
            - job_name: mesh
              scrape_interval: 1s
              static_configs:
              - targets: [{{string.Join(", ", targets.Select(t => "'" + t + "'"))}}]
            """);
        return await StartCoreAsync(config, directory);
    }

    /// <summary>Starts Prometheus with the configuration file <paramref name="configFile"/> and waits until it is ready.</summary>
    public static Task<PrometheusProcess> StartWithConfigAsync(string configFile) => StartCoreAsync(configFile, NewDirectory());

    private static string NewDirectory()
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing: install Debian's prometheus package (test.sh runs 'apt-get install -y prometheus').");
        }

        var directory = Path.Combine(Path.GetTempPath(), "mesh-prometheus-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }

    private static async Task<PrometheusProcess> StartCoreAsync(string config, string directory)
    {
        var port = FreePort();
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--config.file=" + config);
        start.ArgumentList.Add("--storage.tsdb.path=" + Path.Combine(directory, "data"));
        start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port}");
        start.ArgumentList.Add("--log.level=warn");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var prometheus = new PrometheusProcess(process, directory, new Uri($"http://127.0.0.1:{port}/"));
        for (var i = 0; i < 150; i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"prometheus exited with code {process.ExitCode}");
            }

            try
            {
                using var ready = await prometheus._http.GetAsync(new Uri("-/ready", UriKind.Relative));
                if (ready.IsSuccessStatusCode)
                {
                    return prometheus;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        prometheus.Dispose();
        throw new TimeoutException("prometheus did not become ready in 15 s");
    }

    /// <summary>Runs an instant PromQL query; returns the result vector (labels and value per series).</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string promql, DateTimeOffset? time = null)
    {
        var at = time is { } t ? "&time=" + (t.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", System.Globalization.CultureInfo.InvariantCulture) : "";
        var json = await _http.GetStringAsync(new Uri("api/v1/query?query=" + Uri.EscapeDataString(promql) + at, UriKind.Relative));
        using var document = JsonDocument.Parse(json);
        var result = new List<(IReadOnlyDictionary<string, string>, double)>();
        foreach (var series in document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = series.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty);
            var value = double.Parse(series.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            result.Add((labels, value));
        }

        return result;
    }

    /// <summary>Every metric name Prometheus has stored.</summary>
    public async Task<IReadOnlyList<string>> MetricNamesAsync()
    {
        var json = await _http.GetStringAsync(new Uri("api/v1/label/__name__/values", UriKind.Relative));
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetString()!)];
    }

    /// <summary>Polls <paramref name="promql"/> until a result satisfies <paramref name="done"/> (bounded); returns the last result.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryUntilAsync(
        string promql, Func<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var result = await QueryAsync(promql);
        while (!done(result) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
            result = await QueryAsync(promql);
        }

        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        _http.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
