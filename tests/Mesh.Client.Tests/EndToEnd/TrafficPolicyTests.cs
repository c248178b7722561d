using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// Traffic policy end to end: VirtualService and DestinationRule YAML in, enforced by Mesh.Client on real calls
/// (retries A44, faults A33, timeouts A31, circuit breaking A32), on the gRPC path and the HttpClient path.
/// </summary>
public sealed class TrafficPolicyTests
{
    /// <summary>A control plane, a service provider with AddMesh and a mesh client on one channel; disposes all three.</summary>
    private sealed class MeshHarness(TestControlPlane controlPlane, ServiceProvider services, GrpcChannel channel, Greeter.GreeterClient client) : IAsyncDisposable
    {
        public TestControlPlane ControlPlane { get; } = controlPlane;

        public Greeter.GreeterClient Client { get; } = client;

        public async ValueTask DisposeAsync()
        {
            channel.Dispose();
            await services.DisposeAsync();
            await ControlPlane.DisposeAsync();
        }
    }

    private static async Task<MeshHarness> StartAsync(
        GreeterBackends backends, string? virtualService, string? destinationRule = null)
    {
        var files = new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, [.. backends.Ports.Keys]) };
        if (virtualService is not null)
        {
            files["vs.yaml"] = virtualService;
        }

        if (destinationRule is not null)
        {
            files["dr.yaml"] = destinationRule;
        }

        var cp = await TestControlPlane.StartAsync(files);
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        var provider = services.BuildServiceProvider();
        var channel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel.CreateMeshCallInvoker(provider, "xds:///greeter:9080"));
        await TryCallAsync(client, "warm-up"); // may itself meet an injected fault
        return new MeshHarness(cp, provider, channel, client);
    }

    private static async Task<StatusCode> TryCallAsync(Greeter.GreeterClient client, string name, DateTime? deadline = null)
    {
        try
        {
            await client.SayHelloAsync(new HelloRequest { Name = name }, deadline: deadline ?? DateTime.UtcNow.AddSeconds(10));
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    [Fact]
    public async Task Retries_HalfFailingBackend_NearlyEveryCallSucceeds_AndNoCallExceedsFourAttempts()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    retries: {attempts: 3, retryOn: unavailable}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        // The backends fail the first attempt of about half the calls; 8 callers at once keep backoff waits short.
        var ok = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<StatusCode>();
        await Parallel.ForAsync(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var status = await TryCallAsync(client, $"flaky#{i}");
            if (status == StatusCode.OK)
            {
                Interlocked.Increment(ref ok);
            }
            else
            {
                failures.Add(status);
            }
        });

        Assert.True(ok >= 1980, $"{ok} of 2000 calls succeeded; failures: {string.Join(", ", failures.GroupBy(f => f).Select(g => $"{g.Key} x{g.Count()}"))}; attempts per failed call: {string.Join(",", backends.Attempts.Values.GroupBy(n => n).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}"))}");
        Assert.True(backends.Attempts.Values.Max() <= 4, $"a call made {backends.Attempts.Values.Max()} attempts");
        Assert.InRange(backends.Attempts.Values.Count(n => n > 1), 850, 1150); // about half the calls needed a retry
        Assert.Equal(2000, backends.Attempts.Count);
    }

    [Fact]
    public async Task Retries_StatusNotInRetryOn_IsNotRetried()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    retries: {attempts: 3, retryOn: unavailable}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(StatusCode.Internal, await TryCallAsync(client, $"status:Internal#{i}"));
        }

        Assert.All(backends.Attempts.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Retries_AfterResponseHeadersArrived_AreNotMade()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    retries: {attempts: 3, retryOn: unavailable}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(StatusCode.Unavailable, await TryCallAsync(client, $"headers-then-unavailable#{i}"));
            Assert.Equal(StatusCode.Unavailable, await TryCallAsync(client, $"status:Unavailable#u{i}"));
        }

        Assert.All(backends.Attempts.Where(p => !p.Key.StartsWith('u')), p => Assert.Equal(1, p.Value));
        Assert.All(backends.Attempts.Where(p => p.Key.StartsWith('u')), p => Assert.Equal(4, p.Value)); // trailers-only: retried
    }

    [Fact]
    public async Task FaultAbort_30Percent_FailsThatShareWithUnavailable_AndServerNeverSeesThem()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    fault: {abort: {percentage: {value: 30}, grpcStatus: UNAVAILABLE}}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);
        backends.Reset();

        var failed = 0;
        for (var i = 0; i < 2000; i++)
        {
            var status = await TryCallAsync(client, "x");
            Assert.True(status is StatusCode.OK or StatusCode.Unavailable, status.ToString());
            failed += status == StatusCode.Unavailable ? 1 : 0;
        }

        Assert.InRange(failed, 540, 660); // 30 % ± 3 points
        Assert.Equal(2000 - failed, backends.Total);
    }

    [Fact]
    public async Task FaultDelay_200ms_DelaysCalls_AndCallerDeadline100ms_EndsBeforeReachingServer()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    fault: {delay: {percentage: {value: 100}, fixedDelay: 200ms}}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        for (var i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            Assert.Equal(StatusCode.OK, await TryCallAsync(client, "x"));
            Assert.True(watch.ElapsedMilliseconds >= 195, $"took {watch.ElapsedMilliseconds} ms");
        }

        backends.Reset();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(StatusCode.DeadlineExceeded, await TryCallAsync(client, "x", DateTime.UtcNow.AddMilliseconds(100)));
        }

        Assert.Equal(0, backends.Total);
    }

    [Fact]
    public async Task RouteTimeout_100ms_AgainstSlowBackend_EndsDeadlineExceededAfterRoughly100ms()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    timeout: 100ms"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloSlowlyAsync(new HelloRequest { DelayMs = 500 }, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        watch.Stop();

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.InRange(watch.ElapsedMilliseconds, 90, 450);
    }

    [Fact]
    public async Task CircuitBreaker_MaxRequests10_With50ConcurrentSlowCalls_ExcessFailsFastWithUnavailable()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        const string breaker = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: greeter}
            spec:
              host: greeter
              trafficPolicy: {connectionPool: {http: {http2MaxRequests: 10}}}
            """;
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    retries: {attempts: 3, retryOn: unavailable}"), breaker);
        var (cp, client) = (mesh.ControlPlane, mesh.Client);
        backends.Reset();

        var calls = Enumerable.Range(0, 50).Select(async _ =>
        {
            var watch = Stopwatch.StartNew();
            try
            {
                await client.SayHelloSlowlyAsync(new HelloRequest { DelayMs = 1000 }, deadline: DateTime.UtcNow.AddSeconds(10));
                return (Status: StatusCode.OK, Elapsed: watch.Elapsed);
            }
            catch (RpcException ex)
            {
                return (Status: ex.StatusCode, Elapsed: watch.Elapsed);
            }
        }).ToList();
        var results = await Task.WhenAll(calls);

        var rejected = results.Where(r => r.Status == StatusCode.Unavailable).ToList();
        Assert.Equal(10, results.Count(r => r.Status == StatusCode.OK));
        Assert.Equal(40, rejected.Count);
        Assert.All(rejected, r => Assert.True(r.Elapsed < TimeSpan.FromMilliseconds(700), $"a rejected call took {r.Elapsed.TotalMilliseconds:F0} ms"));
        Assert.Equal(10, backends.Total); // rejected calls were not retried onto the server
    }

    [Fact]
    public async Task OutlierDetection_EjectsFailingEndpoint_TrafficGoesToHealthy_ThenItReturns()
    {
        await using var backends = await GreeterBackends.StartAsync("good", "bad");
        const string outlier = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: greeter}
            spec:
              host: greeter
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 50}
            """;
        await using var mesh = await StartAsync(backends, virtualService: null, outlier);
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        backends.Failing["bad"] = true;
        var failures = 0;
        for (var i = 0; i < 20; i++)
        {
            failures += await TryCallAsync(client, "x") == StatusCode.OK ? 0 : 1;
        }

        Assert.Equal(3, failures); // three consecutive failures at "bad", then it is ejected at once
        backends.Reset();
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(StatusCode.OK, await TryCallAsync(client, "x"));
        }

        Assert.Equal(100, backends.Calls.GetValueOrDefault("good"));

        // Healthy again: after the ejection time (2 s, checked at the 1 s interval) it takes traffic again.
        backends.Failing.TryRemove("bad", out var _);
        backends.Reset();
        var returnedBy = DateTime.UtcNow.AddSeconds(10);
        while (backends.Calls.GetValueOrDefault("bad") == 0 && DateTime.UtcNow < returnedBy)
        {
            Assert.Equal(StatusCode.OK, await TryCallAsync(client, "x"));
            await Task.Delay(20);
        }

        Assert.True(backends.Calls.GetValueOrDefault("bad") > 0, "the ejected endpoint never came back");
    }

    [Fact]
    public async Task PolicyChangedInYaml_TakesEffectOnRunningClient()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService(string.Empty));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);
        Assert.Equal(StatusCode.OK, await TryCallAsync(client, "x"));

        await cp.WriteFileAsync("vs.yaml", MeshYaml.VirtualService("    fault: {abort: {percentage: {value: 100}, grpcStatus: RESOURCE_EXHAUSTED}}"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var status = StatusCode.OK;
        while (status == StatusCode.OK && DateTime.UtcNow < deadline)
        {
            status = await TryCallAsync(client, "x");
        }

        Assert.Equal(StatusCode.ResourceExhausted, status);

        await cp.WriteFileAsync("vs.yaml", MeshYaml.VirtualService("    timeout: 100ms"));
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (status == StatusCode.ResourceExhausted && DateTime.UtcNow < deadline)
        {
            status = await TryCallAsync(client, "x");
        }

        Assert.Equal(StatusCode.OK, status);
        var slow = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloSlowlyAsync(new HelloRequest { DelayMs = 500 }).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, slow.StatusCode);
    }

    [Fact]
    public async Task RetriesCircuitBreakerAndOutlierChangedInYaml_TakeEffectOnRunningClient()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        static string Rule(string policy) => $"""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {"{"}name: greeter{"}"}
            spec:
              host: greeter
              trafficPolicy: {policy}
            """;
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService(string.Empty), Rule("{connectionPool: {http: {http2MaxRequests: 1}}}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        // Retries: off, then on.
        Assert.Equal(StatusCode.Unavailable, await UntilAsync(() => TryCallAsync(client, $"status:Unavailable#r0"), s => s == StatusCode.Unavailable));
        Assert.Equal(1, backends.Attempts["r0"]);
        await cp.WriteFileAsync("vs.yaml", MeshYaml.VirtualService("    retries: {attempts: 2, retryOn: unavailable}"));
        var retried = 0;
        for (var i = 1; i < 200 && retried == 0; i++)
        {
            await TryCallAsync(client, $"status:Unavailable#r{i}");
            retried = backends.Attempts[$"r{i}"] == 3 ? i : 0;
            await Task.Delay(20);
        }

        Assert.NotEqual(0, retried);

        // Circuit breaker: 1 request at a time, then 100.
        Assert.True(await ConcurrentRejectionsAsync(client) > 0);
        await cp.WriteFileAsync("dr.yaml", Rule("{connectionPool: {http: {http2MaxRequests: 100}}}"));
        var rejections = -1;
        for (var i = 0; i < 50 && rejections != 0; i++)
        {
            rejections = await ConcurrentRejectionsAsync(client);
        }

        Assert.Equal(0, rejections);

        // Outlier detection: added to the rule while calls run, it ejects a failing endpoint.
        await cp.WriteFileAsync("dr.yaml", Rule("{outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}}"));
        backends.Failing["b"] = true;
        var healthyStreak = 0;
        for (var i = 0; i < 500 && healthyStreak < 100; i++)
        {
            healthyStreak = await TryCallAsync(client, "x") == StatusCode.OK ? healthyStreak + 1 : 0;
        }

        Assert.Equal(100, healthyStreak);
    }

    private static async Task<int> ConcurrentRejectionsAsync(Greeter.GreeterClient client)
    {
        var calls = Enumerable.Range(0, 5).Select(_ => client.SayHelloSlowlyAsync(new HelloRequest { DelayMs = 200 }, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync).ToList();
        var rejected = 0;
        foreach (var call in calls)
        {
            try
            {
                await call;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                rejected++;
            }
        }

        return rejected;
    }

    private static async Task<StatusCode> UntilAsync(Func<Task<StatusCode>> call, Func<StatusCode, bool> done)
    {
        var status = StatusCode.OK;
        for (var i = 0; i < 100; i++)
        {
            status = await call();
            if (done(status))
            {
                break;
            }
        }

        return status;
    }

    private static async Task<(StatusCode Status, int Messages)> ReadStreamAsync(Greeter.GreeterClient client, string name)
    {
        var messages = 0;
        try
        {
            using var call = client.SayHellos(new HelloRequest { Name = name }, deadline: DateTime.UtcNow.AddSeconds(10));
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
                messages++;
            }

            return (StatusCode.OK, messages);
        }
        catch (RpcException ex)
        {
            return (ex.StatusCode, messages);
        }
    }

    [Fact]
    public async Task ServerStreaming_FaultAbort_FailsTheStreamBeforeTheServer()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    fault: {abort: {percentage: {value: 100}, grpcStatus: UNAVAILABLE}}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);
        backends.Reset();

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal((StatusCode.Unavailable, 0), await ReadStreamAsync(client, "x"));
        }

        Assert.Equal(0, backends.Total);
    }

    [Fact]
    public async Task ServerStreaming_RetriedBeforeHeaders_NotAfter()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var mesh = await StartAsync(backends, MeshYaml.VirtualService("    retries: {attempts: 3, retryOn: unavailable}"));
        var (cp, client) = (mesh.ControlPlane, mesh.Client);

        Assert.Equal((StatusCode.OK, 3), await ReadStreamAsync(client, "ok#s0"));
        Assert.Equal(StatusCode.Unavailable, (await ReadStreamAsync(client, "status:Unavailable#s1")).Status);
        Assert.Equal(StatusCode.Unavailable, (await ReadStreamAsync(client, "headers-then-unavailable#s2")).Status);
        Assert.Equal(StatusCode.Internal, (await ReadStreamAsync(client, "status:Internal#s3")).Status);

        Assert.Equal(1, backends.Attempts["s0"]);
        Assert.Equal(4, backends.Attempts["s1"]); // trailers-only failures: retried up to 4 attempts
        Assert.Equal(1, backends.Attempts["s2"]); // committed once headers arrived
        Assert.Equal(1, backends.Attempts["s3"]); // not in retryOn
    }

    [Fact]
    public async Task AddGrpcClient_GetsTheMeshPoliciesAutomatically()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a"),
            ["vs.yaml"] = MeshYaml.VirtualService("    fault: {abort: {percentage: {value: 100}, grpcStatus: PERMISSION_DENIED}}"),
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri("xds:///greeter:9080"));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<Greeter.GreeterClient>();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        var status = StatusCode.OK;
        while (status != StatusCode.PermissionDenied && DateTime.UtcNow < deadline)
        {
            status = await TryCallAsync(client, "x");
            await Task.Delay(20);
        }

        Assert.Equal(StatusCode.PermissionDenied, status);
        Assert.Equal(0, backends.Total);
    }
}
