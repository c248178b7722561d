using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// The gRPC path end to end: a real control plane over a YAML directory, real Kestrel backends, and channels made
/// only through the public API (AddMesh + GrpcChannel.ForAddress("xds:///...")).
/// </summary>
public sealed class GrpcChannelTests
{
    private const string Target = "xds:///greeter:9080";

    private static (ServiceProvider Services, GrpcChannel Channel) CreateChannel(TestControlPlane cp, string target = Target)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        var provider = services.BuildServiceProvider();
        var channel = GrpcChannel.ForAddress(target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        return (provider, channel);
    }

    private static async Task<Dictionary<string, int>> CallAsync(GrpcChannel channel, int count, Metadata? headers = null)
    {
        var client = new Greeter.GreeterClient(channel);
        var seen = new Dictionary<string, int>();
        for (var i = 0; i < count; i++)
        {
            var reply = await client.SayHelloAsync(new HelloRequest { Name = "test" }, headers, deadline: DateTime.UtcNow.AddSeconds(10));
            seen[reply.Backend] = seen.GetValueOrDefault(reply.Backend) + 1;
        }

        return seen;
    }

    [Fact]
    public async Task TwoEndpoints_ShareCallsEvenly()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a", "b") });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;

        var seen = await CallAsync(channel, 2000);

        Assert.InRange(seen.GetValueOrDefault("a"), 900, 1100);
        Assert.InRange(seen.GetValueOrDefault("b"), 900, 1100);
        Assert.Equal(2000, backends.Total);
    }

    [Fact]
    public async Task VirtualServiceSplit_80_20_ShowsInCalls()
    {
        await using var backends = await GreeterBackends.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "v1", "v2"),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: ["v1", "v2"]),
            ["vs.yaml"] = MeshYaml.Split(80, 20),
        });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;

        var seen = await CallAsync(channel, 2000);

        Assert.InRange(seen.GetValueOrDefault("v1"), 1540, 1660); // 80 % ± 3 points
        Assert.InRange(seen.GetValueOrDefault("v2"), 340, 460);
    }

    [Fact]
    public async Task HeaderMatch_SendsEveryMatchingCallToV2AndNoOther()
    {
        await using var backends = await GreeterBackends.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "v1", "v2"),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: ["v1", "v2"]),
            ["vs.yaml"] = MeshYaml.HeaderMatch,
        });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;

        var jason = await CallAsync(channel, 200, new Metadata { { "end-user", "jason" } });
        var others = await CallAsync(channel, 200, new Metadata { { "end-user", "alice" } });
        var anonymous = await CallAsync(channel, 200);

        Assert.Equal(200, jason.GetValueOrDefault("v2"));
        Assert.Equal(200, others.GetValueOrDefault("v1"));
        Assert.Equal(200, anonymous.GetValueOrDefault("v1"));
    }

    [Fact]
    public async Task YamlEdit_ShiftsTrafficWithZeroFailedCalls()
    {
        await using var backends = await GreeterBackends.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "v1", "v2"),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: ["v1", "v2"]),
            ["vs.yaml"] = MeshYaml.Split(100, 0),
        });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);
        Assert.Equal(200, (await CallAsync(channel, 200)).GetValueOrDefault("v1"));

        await cp.WriteFileAsync("vs.yaml", MeshYaml.Split(0, 100));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var failures = 0;
        string backend;
        do
        {
            try
            {
                backend = (await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5))).Backend;
            }
            catch (RpcException)
            {
                failures++;
                backend = string.Empty;
            }
        }
        while (backend != "v2" && DateTime.UtcNow < deadline);

        Assert.Equal("v2", backend);
        Assert.Equal(0, failures);
        Assert.Equal(200, (await CallAsync(channel, 200)).GetValueOrDefault("v2"));
    }

    [Fact]
    public async Task EndpointRemoved_GetsNoNewCallsAndNoCallFails()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a", "b") });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);
        await CallAsync(channel, 100);

        await cp.WriteFileAsync("se.yaml", MeshYaml.ServiceEntry(backends, "a"));
        var failures = 0;
        var sinceLastB = 0;
        for (var i = 0; i < 5000 && sinceLastB < 300; i++)
        {
            try
            {
                var reply = await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                sinceLastB = reply.Backend == "b" ? 0 : sinceLastB + 1;
            }
            catch (RpcException)
            {
                failures++;
            }
        }

        Assert.Equal(300, sinceLastB);
        Assert.Equal(0, failures);
        backends.Reset();
        await CallAsync(channel, 200);
        Assert.Equal(0, backends.Calls.GetValueOrDefault("b"));
    }

    [Fact]
    public async Task ControlPlaneStopped_CallsUseCache_RestartedWithNewConfig_ClientFollows()
    {
        await using var backends = await GreeterBackends.StartAsync("v1", "v2");
        var files = new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "v1", "v2"),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: ["v1", "v2"]),
            ["vs.yaml"] = MeshYaml.Split(100, 0),
        };
        var cp = await TestControlPlane.StartAsync(files);
        var directory = cp.Directory;
        var port = cp.XdsAddress.Port;
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        Assert.Equal(100, (await CallAsync(channel, 100)).GetValueOrDefault("v1"));

        await cp.StopAsync();
        Assert.Equal(300, (await CallAsync(channel, 300)).GetValueOrDefault("v1"));

        files["vs.yaml"] = MeshYaml.Split(0, 100);
        await using var restarted = await TestControlPlane.StartAsync(files, directory, port);
        var client = new Greeter.GreeterClient(channel);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var backend = string.Empty;
        while (backend != "v2" && DateTime.UtcNow < deadline)
        {
            backend = (await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5))).Backend;
            await Task.Delay(20);
        }

        Assert.Equal("v2", backend);
    }

    [Fact]
    public async Task LeastRequest_PrefersEndpointWithFewerCallsInFlight()
    {
        // Slow calls carry x-slow and are routed to subset "a"; other calls go to the whole service with
        // LEAST_REQUEST. Endpoint state is shared by both clusters, so "a" is seen as busy.
        const string slowToA = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: greeter}
            spec:
              hosts: [greeter]
              http:
              - match: [{headers: {x-slow: {exact: "yes"}}}]
                route: [{destination: {host: greeter, subset: a}}]
              - route: [{destination: {host: greeter}}]
            """;
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a", "b"),
            ["dr.yaml"] = MeshYaml.DestinationRule("  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}", "a", "b"),
            ["vs.yaml"] = slowToA,
        });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);
        var even = await CallAsync(channel, 200);
        Assert.InRange(even.GetValueOrDefault("a"), 50, 150); // idle endpoints share the load

        var slow = new List<Task<HelloReply>>();
        for (var i = 0; i < 8; i++)
        {
            slow.Add(client.SayHelloSlowlyAsync(new HelloRequest { DelayMs = 2000 }, new Metadata { { "x-slow", "yes" } }).ResponseAsync);
        }

        var waitUntil = DateTime.UtcNow.AddSeconds(5);
        while (backends.InFlight.GetValueOrDefault("a") < 8 && DateTime.UtcNow < waitUntil)
        {
            await Task.Delay(10);
        }

        backends.Reset();
        var busyPhase = await CallAsync(channel, 100);
        await Task.WhenAll(slow);

        Assert.True(busyPhase.GetValueOrDefault("a") <= 5, $"{busyPhase.GetValueOrDefault("a")} of 100 calls went to the endpoint with 8 calls in flight");
    }

    [Fact]
    public async Task RingHash_SameHeaderValueReachesSameEndpoint()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b", "c");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a", "b", "c"),
            ["dr.yaml"] = MeshYaml.DestinationRule("  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}"),
        });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        await CallAsync(channel, 30);

        var owners = new Dictionary<string, string>();
        for (var user = 0; user < 20; user++)
        {
            var seen = await CallAsync(channel, 20, new Metadata { { "x-user", "user-" + user } });
            owners["user-" + user] = Assert.Single(seen).Key;
        }

        Assert.True(owners.Values.Distinct().Count() > 1, "20 users should not all hash to one endpoint");
    }

    [Fact]
    public async Task AddGrpcClient_WithXdsAddress_IsRoutedThroughMesh()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a") });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri("xds:///greeter.default.svc.cluster.local:9080"));
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<Greeter.GreeterClient>();
        var reply = await client.SayHelloAsync(new HelloRequest { Name = "factory" }, deadline: DateTime.UtcNow.AddSeconds(10));

        Assert.Equal("a", reply.Backend);
    }

    [Fact]
    public async Task NoReachableXdsServer_CallEndsAtItsDeadline()
    {
        // Nothing listens on this port: the xDS client keeps retrying and no configuration ever arrives. Guards the
        // pending-result workaround for Grpc.Net.Client ignoring deadlines before a resolver's first result.
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var deadPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(new Uri($"http://127.0.0.1:{deadPort}")));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress(Target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });

        var started = System.Diagnostics.Stopwatch.StartNew();
        var call = new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(1)).ResponseAsync;
        var finished = await Task.WhenAny(call, Task.Delay(TimeSpan.FromSeconds(20)));

        Assert.Same(call, finished);
        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task TargetDeleted_CallsFailWithUnavailableNamingIt()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a") });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);
        await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10));

        cp.DeleteFile("se.yaml");
        RpcException? error = null;
        var until = DateTime.UtcNow.AddSeconds(10);
        while (error is null && DateTime.UtcNow < until)
        {
            try
            {
                await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                await Task.Delay(20);
            }
            catch (RpcException ex)
            {
                error = ex;
            }
        }

        Assert.NotNull(error);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("greeter:9080", error.Status.Detail, StringComparison.Ordinal);
    }
}
