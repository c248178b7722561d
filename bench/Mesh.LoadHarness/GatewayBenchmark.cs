using System.Diagnostics;
using System.Globalization;
using System.Net;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;

namespace Mesh.LoadHarness;

/// <summary>
/// <c>gateway</c>: requests per second and latency (p50, p99) through the Mesh gateway (YARP configured over xDS, upstream
/// calls through Mesh.Client) against YARP configured statically to the same backends, one run side by side. Everything
/// runs in this process on loopback: the backends, a control plane, both proxies and the load generator (closed loop:
/// a fixed number of workers, each sending its next request when the last one answered). The two proxies are measured
/// one after the other, each after a warm-up, in the order static, gateway, static, gateway (<c>--rounds</c>), and the
/// table shows the best round of each.
/// </summary>
internal static class GatewayBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var quick = Array.IndexOf(args, "--short") >= 0;
        var seconds = Program.Option(args, "--seconds", quick ? 2 : 20);
        var concurrency = Program.Option(args, "--concurrency", quick ? 8 : 64);
        var backends = Program.Option(args, "--backends", 2);
        var rounds = Program.Option(args, "--rounds", quick ? 1 : 2);
        var warmup = TimeSpan.FromSeconds(quick ? 1 : 5);

        var apps = new List<WebApplication>();
        TestControlPlane? controlPlane = null;
        try
        {
            var ports = new List<int>();
            for (var i = 0; i < backends; i++)
            {
                ports.Add(await StartAsync(apps, Backend()));
            }

            controlPlane = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["gateway.yaml"] = Config(ports) });
            var gatewayPort = await StartAsync(apps, Gateway(controlPlane.XdsAddress));
            var staticPort = await StartAsync(apps, StaticYarp(ports));

            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseCookies = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };
            var gatewayUrl = new Uri($"http://127.0.0.1:{gatewayPort}/bench");
            var staticUrl = new Uri($"http://127.0.0.1:{staticPort}/bench");
            await WaitForAsync(client, gatewayUrl);
            await WaitForAsync(client, staticUrl);

            Result? bestStatic = null;
            Result? bestGateway = null;
            for (var round = 0; round < rounds; round++)
            {
                var s = await MeasureAsync(client, staticUrl, concurrency, warmup, TimeSpan.FromSeconds(seconds));
                var g = await MeasureAsync(client, gatewayUrl, concurrency, warmup, TimeSpan.FromSeconds(seconds));
                bestStatic = bestStatic is null || s.Rps > bestStatic.Rps ? s : bestStatic;
                bestGateway = bestGateway is null || g.Rps > bestGateway.Rps ? g : bestGateway;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""

                Gateway vs static YARP — {backends} backends, {concurrency} workers, {seconds} s per run, best of {rounds} round(s){(quick ? " (short mode: a smoke check, not a measurement)" : string.Empty)}
                | proxy                            |        rps |  p50 (ms) |  p99 (ms) | errors |
                | -------------------------------- | ---------: | --------: | --------: | -----: |
                | YARP, static config              | {bestStatic!.Rps,10:F0} | {bestStatic.P50,9:F3} | {bestStatic.P99,9:F3} | {bestStatic.Errors,6} |
                | Mesh gateway (xDS + Mesh.Client) | {bestGateway!.Rps,10:F0} | {bestGateway.P50,9:F3} | {bestGateway.P99,9:F3} | {bestGateway.Errors,6} |
                gateway / static rps: {bestGateway.Rps / bestStatic.Rps:F3} (target ≥ 0.95)
                """));
            return bestStatic.Errors + bestGateway.Errors == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var app in Enumerable.Reverse(apps))
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }

            if (controlPlane is not null)
            {
                await controlPlane.DisposeAsync();
            }
        }
    }

    private sealed record Result(double Rps, double P50, double P99, int Errors);

    private static async Task<Result> MeasureAsync(HttpClient client, Uri url, int concurrency, TimeSpan warmup, TimeSpan duration)
    {
        await RunWorkersAsync(client, url, concurrency, warmup, record: null);
        var latencies = new List<double>[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            latencies[i] = new List<double>(64 * 1024);
        }

        var started = Stopwatch.GetTimestamp();
        var errors = await RunWorkersAsync(client, url, concurrency, duration, latencies);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(static l => l).Order().ToArray();
        return new Result(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors);
    }

    private static async Task<int> RunWorkersAsync(HttpClient client, Uri url, int concurrency, TimeSpan duration, List<double>[]? record)
    {
        var errors = 0;
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var list = record?[w];
            workers[w] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < end)
                {
                    var start = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
                        if (!response.IsSuccessStatusCode)
                        {
                            Interlocked.Increment(ref errors);
                            continue;
                        }
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }

                    list?.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return errors;
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static async Task WaitForAsync(HttpClient client, Uri url)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            try
            {
                using var response = await client.GetAsync(url);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
        }

        throw new TimeoutException($"{url} did not answer within 30 s");
    }

    private static string Config(List<int> ports) => Config(string.Join("\n", ports.Select(p => $"  - {{address: 127.0.0.1, ports: {{http: {p}}}}}")));

    private static string Config(string endpoints) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: bench, namespace: default}
        spec:
          hosts: [bench.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports: [{number: 9080, name: http, protocol: HTTP}]
          endpoints:
        {{{endpoints}}}
        ---
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: bench, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: bench, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [bench]
          http:
          - route:
            - destination: {host: bench, port: {number: 9080}}
        """;

    private static WebApplication Backend()
    {
        var builder = Quiet();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        app.Run(static context => context.Response.WriteAsync("ok"));
        return app;
    }

    private static WebApplication Gateway(Uri xds)
    {
        var builder = Quiet();
        builder.Services.AddMesh(o => o.BootstrapJson = $$$"""
            {
              "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
              "node": {"id": "bench-gateway.istio-system", "metadata": {"NAMESPACE": "istio-system", "LABELS": {"istio": "ingressgateway"} } }
            }
            """);
        builder.Services.AddMeshGateway(o => o.Listeners[8080] = new IPEndPoint(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.UseMeshGateway();
        return app;
    }

    private static WebApplication StaticYarp(List<int> ports)
    {
        var builder = Quiet();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1AndHttp2));
        builder.Services.AddReverseProxy().LoadFromMemory(
            [new RouteConfig { RouteId = "bench", ClusterId = "bench", Match = new RouteMatch { Path = "/{**rest}" } }],
            [new ClusterConfig
            {
                ClusterId = "bench",
                LoadBalancingPolicy = "RoundRobin",
                Destinations = ports.Select((p, i) => (p, i)).ToDictionary(static x => "d" + x.i.ToString(CultureInfo.InvariantCulture), static x => new DestinationConfig { Address = $"http://127.0.0.1:{x.p}/" }),
                HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower },
            }]);
        var app = builder.Build();
        app.MapReverseProxy();
        return app;
    }

    private static WebApplicationBuilder Quiet()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        return builder;
    }

    private static async Task<int> StartAsync(List<WebApplication> apps, WebApplication app)
    {
        await app.StartAsync();
        apps.Add(app);
        return new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
    }
}
