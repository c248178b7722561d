using System.Diagnostics;
using System.Net;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Http;

/// <summary>
/// Issue 11's policy acceptance on the HttpClient path (<c>AddHttpClient(...).AddMeshRouting()</c>): the route's compiled
/// pipeline — fault delay and abort (A33), the route timeout, retries with Envoy's HTTP retry_on, per-try timeouts,
/// buffered bodies and x-envoy-attempt-count — against a real control plane and real Kestrel backends.
/// </summary>
public sealed class MeshRoutingHandlerPolicyTests
{
    private sealed class Harness(TestControlPlane controlPlane, ServiceProvider services) : IAsyncDisposable
    {
        public HttpClient Client { get; } = services.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        public HttpClient CreateClient() => services.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        public async ValueTask DisposeAsync()
        {
            await services.DisposeAsync();
            await controlPlane.DisposeAsync();
        }
    }

    private static async Task<Harness> StartAsync(RestBackends backends, string policy, Action<MeshClientOptions>? options = null)
    {
        var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends.Ports, "http", "HTTP", [.. backends.Ports.Keys]),
            ["vs.yaml"] = MeshYaml.VirtualService(policy),
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o =>
        {
            o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress);
            options?.Invoke(o);
        });
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter")).AddMeshRouting();
        return new Harness(cp, services.BuildServiceProvider());
    }

    private static async Task<HttpStatusCode> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        return response.StatusCode;
    }

    [Fact]
    public async Task FaultAbort50Percent_AboutHalfTheRequestsGet503_AndNeverReachTheServer()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, "    fault: {abort: {percentage: {value: 50}, httpStatus: 503}}");

        var aborted = 0;
        var ok = 0;
        await Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var status = await GetAsync(mesh.Client, "/hello");
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, status.ToString());
            Interlocked.Increment(ref status == HttpStatusCode.OK ? ref ok : ref aborted);
        });

        Assert.InRange(aborted, 440, 560); // 50 ± 6 %
        Assert.Equal(ok, backends.Calls.Values.Sum());
    }

    [Theory]
    [InlineData("httpStatus: 503", HttpStatusCode.ServiceUnavailable)]
    [InlineData("grpcStatus: UNAVAILABLE", HttpStatusCode.ServiceUnavailable)]
    [InlineData("grpcStatus: PERMISSION_DENIED", HttpStatusCode.Forbidden)]
    public async Task FaultAbort100Percent_EveryRequestGetsTheAbortStatus(string abort, HttpStatusCode expected)
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, $"    fault: {{abort: {{percentage: {{value: 100}}, {abort}}}}}");

        for (var i = 0; i < 50; i++)
        {
            using var response = await mesh.Client.GetAsync("/hello");
            Assert.Equal(expected, response.StatusCode);
            Assert.Equal("mesh: fault filter abort", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(0, backends.Calls.Values.Sum());
    }

    [Fact]
    public async Task FaultDelay300ms_ClientTimeout100ms_CanceledAtAbout100ms_BeforeReachingTheServer()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, "    fault: {delay: {percentage: {value: 100}, fixedDelay: 300ms}}");
        Assert.Equal(HttpStatusCode.OK, await GetAsync(mesh.Client, "/hello")); // configuration in force, connected
        var watch = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.OK, await GetAsync(mesh.Client, "/hello"));
        Assert.True(watch.ElapsedMilliseconds >= 290, $"the delayed request took {watch.ElapsedMilliseconds} ms");
        backends.Calls.Clear();

        var client = mesh.CreateClient();
        client.Timeout = TimeSpan.FromMilliseconds(100);
        for (var i = 0; i < 3; i++)
        {
            watch.Restart();
            await Assert.ThrowsAsync<TaskCanceledException>(() => client.GetAsync("/hello"));
            Assert.InRange(watch.ElapsedMilliseconds, 80, 280);
        }

        Assert.Equal(0, backends.Calls.Values.Sum());
    }

    [Fact]
    public async Task RouteTimeout200ms_Backend500ms_Answers504AtAbout200ms()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, "    timeout: 200ms");
        for (var i = 0; i < 20 && await GetAsync(mesh.Client, "/hello") != HttpStatusCode.OK; i++)
        {
            // warm-up: configuration and a connection, each within the 200 ms route timeout
        }

        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await mesh.Client.GetAsync("/slow/500");
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Equal("mesh: upstream request timeout", await response.Content.ReadAsStringAsync());
            Assert.InRange(watch.ElapsedMilliseconds, 180, 450);
        }

        Assert.Equal(HttpStatusCode.OK, await GetAsync(mesh.Client, "/slow/50")); // within the timeout
    }

    [Fact]
    public async Task Retries3On5xx_HalfTheRequestsFailTheirFirstTry_EveryRequestSucceeds_WithAttemptCount()
    {
        await using var backends = await RestBackends.StartAsync("a", "b");
        await using var mesh = await StartAsync(backends, "    retries: {attempts: 3, retryOn: 5xx}");

        var failed = 0;
        await Parallel.ForAsync(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            if (await GetAsync(mesh.Client, $"/flaky/r{i}") != HttpStatusCode.OK)
            {
                Interlocked.Increment(ref failed);
            }
        });

        Assert.Equal(0, failed);
        var retried = backends.AttemptCounts.Where(p => backends.Attempts[p.Key] > 1).ToList();
        Assert.InRange(retried.Count, 140, 260); // about half the requests needed a second try
        Assert.All(retried, p => Assert.Equal(["1", "2"], p.Value.ToArray()));
        Assert.All(backends.AttemptCounts.Where(p => backends.Attempts[p.Key] == 1), p => Assert.Equal(["1"], p.Value.ToArray()));
    }

    [Fact]
    public async Task RetriesOnGrpcStatusOnly_Http503_IsNotRetried()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, "    retries: {attempts: 3, retryOn: unavailable}");

        for (var i = 0; i < 40; i++)
        {
            await GetAsync(mesh.Client, $"/flaky/u{i}");
        }

        Assert.All(backends.Attempts.Values, n => Assert.Equal(1, n)); // Envoy: gRPC conditions read grpc-status, not an HTTP 503
    }

    [Fact]
    public async Task Retries_PostBody_IsReplayedOnTheRetry_WithItsContentLength()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, "    retries: {attempts: 2, retryOn: 5xx}");

        for (var i = 0; i < 10; i++)
        {
            using var response = await mesh.Client.PostAsync($"/echo/p{i}", new StringContent("payload-" + i));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"payload-{i}|{("payload-" + i).Length}", await response.Content.ReadAsStringAsync());
            Assert.Equal(2, backends.Attempts[$"p{i}"]);
        }
    }

    [Fact]
    public async Task Retries_BodyLargerThanRetryBuffer_IsSentOnceAndNotRetried()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, "    retries: {attempts: 2, retryOn: 5xx}", o => o.RetryBufferPerCallSize = 64);

        using var small = await mesh.Client.PostAsync("/echo/small", new StringContent(new string('s', 32)));
        using var large = await mesh.Client.PostAsync("/echo/large", new StringContent(new string('l', 4096)));

        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(2, backends.Attempts["small"]);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, large.StatusCode);
        Assert.Equal(1, backends.Attempts["large"]);
    }

    [Fact]
    public async Task PerTryTimeout100ms_SlowFirstTry_IsRetried_AndTheRequestSucceedsEarly()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, "    retries: {attempts: 2, perTryTimeout: 100ms, retryOn: 5xx}");
        Assert.Equal(HttpStatusCode.OK, await GetAsync(mesh.Client, "/hello"));

        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal(HttpStatusCode.OK, await GetAsync(mesh.Client, $"/slow-first/t{i}"));
            Assert.InRange(watch.ElapsedMilliseconds, 90, 450); // the 100 ms try, a backoff, a fast try: not the 500 ms one
            Assert.Equal(["1", "2"], backends.AttemptCounts[$"t{i}"].ToArray());
        }
    }
}
