using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// DestinationRule <c>localityLbSetting</c> end to end: a real control plane translating per client locality, real
/// Kestrel backends in two zones, and clients in zone A (their bootstrap's <c>node.locality</c>) through the public API.
/// </summary>
public sealed class LocalityLoadBalancingEndToEndTests
{
    private const string Target = "xds:///greeter:9080";

    /// <summary>"greeter" with a1, a2 in us-east/zone-a and b1, b2 in us-east/zone-b.</summary>
    private static string ServiceEntry(Dictionary<string, int> ports, string portName, string protocol) => $$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: greeter}
        spec:
          hosts: [greeter.default.svc.cluster.local]
          resolution: STATIC
          ports:
          - {number: 9080, name: {{portName}}, protocol: {{protocol}}}
          endpoints:
          - {address: 127.0.0.1, ports: {{{portName}}: {{ports["a1"]}}}, locality: us-east/zone-a}
          - {address: 127.0.0.1, ports: {{{portName}}: {{ports["a2"]}}}, locality: us-east/zone-a}
          - {address: 127.0.0.1, ports: {{{portName}}: {{ports["b1"]}}}, locality: us-east/zone-b}
          - {address: 127.0.0.1, ports: {{{portName}}: {{ports["b2"]}}}, locality: us-east/zone-b}
        """;

    private static string DestinationRule(string trafficPolicy) => $"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {"{"}name: greeter{"}"}
        spec:
          host: greeter
          trafficPolicy: {trafficPolicy}
        """;

    private const string Failover =
        "{outlierDetection: {consecutive5xxErrors: 5, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 100}, " +
        "loadBalancer: {localityLbSetting: {enabled: true}}}";

    private const string Distribute =
        """{loadBalancer: {localityLbSetting: {distribute: [{from: "us-east/zone-a/*", to: {"us-east/zone-a/*": 80, "us-east/zone-b/*": 20}}]}}}""";

    private static string Bootstrap(Uri xds) => $$$"""
        {
          "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
          "node": {"id": "client-in-zone-a", "cluster": "test", "metadata": {"NAMESPACE": "default"}, "locality": {"region": "us-east", "zone": "zone-a"}}
        }
        """;

    private static (ServiceProvider Services, GrpcChannel Channel) CreateChannel(TestControlPlane cp)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = Bootstrap(cp.XdsAddress));
        var provider = services.BuildServiceProvider();
        return (provider, GrpcChannel.ForAddress(Target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure }));
    }

    private static async Task<string?> CallAsync(Greeter.GreeterClient client)
    {
        try
        {
            return (await client.SayHelloAsync(new HelloRequest { Name = "locality" }, deadline: DateTime.UtcNow.AddSeconds(15))).Backend;
        }
        catch (RpcException)
        {
            return null; // a call in flight while its backend stops
        }
    }

    /// <summary>Calls until one is answered by a backend whose name starts with <paramref name="zone"/>, within <paramref name="limit"/>.</summary>
    private static async Task WaitForZoneAsync(Greeter.GreeterClient client, string zone, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            if ((await CallAsync(client))?.StartsWith(zone, StringComparison.Ordinal) == true)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"no call reached zone {zone} within {limit.TotalSeconds} s");
    }

    private static async Task<Dictionary<string, int>> ZonesOfAsync(Greeter.GreeterClient client, int count)
    {
        var zones = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var backend = await CallAsync(client) ?? "failed";
            zones[backend[..1]] = zones.GetValueOrDefault(backend[..1]) + 1;
        }

        return zones;
    }

    [Fact]
    public async Task Grpc_Failover_StaysInOwnZone_FailsOverWhenItStops_AndComesBack()
    {
        await using var backends = await GreeterBackends.StartAsync("a1", "a2", "b1", "b2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends.Ports, "grpc", "GRPC"),
            ["dr.yaml"] = DestinationRule(Failover),
        });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);

        // Zone A is priority 0 for this client: every call stays there, both of its endpoints share them.
        await WaitForZoneAsync(client, "a", TimeSpan.FromSeconds(20));
        for (var i = 0; i < 400 && (backends.Calls.GetValueOrDefault("a1") == 0 || backends.Calls.GetValueOrDefault("a2") == 0); i++)
        {
            await CallAsync(client); // until both of zone A's endpoints are connected
        }

        backends.Reset();
        var inA = await ZonesOfAsync(client, 200);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 200 }, inA);
        Assert.True(backends.Calls.GetValueOrDefault("a1") > 50 && backends.Calls.GetValueOrDefault("a2") > 50, "both zone-A endpoints share the calls");
        Assert.Equal(0, backends.Calls.GetValueOrDefault("b1") + backends.Calls.GetValueOrDefault("b2"));

        // Zone A's endpoints stop: the calls fail over to zone B.
        await backends.StopAsync("a1");
        await backends.StopAsync("a2");
        await WaitForZoneAsync(client, "b", TimeSpan.FromSeconds(30));
        Assert.Equal(new Dictionary<string, int> { ["b"] = 100 }, await ZonesOfAsync(client, 100));

        // Zone A is back (same addresses): the calls return to it.
        await backends.RestartAsync("a1");
        await backends.RestartAsync("a2");
        await WaitForZoneAsync(client, "a", TimeSpan.FromSeconds(60));
        Assert.Equal(new Dictionary<string, int> { ["a"] = 100 }, await ZonesOfAsync(client, 100));
    }

    [Fact]
    public async Task Grpc_Distribute80To20_SplitsCallsBetweenZonesInProportion()
    {
        await using var backends = await GreeterBackends.StartAsync("a1", "a2", "b1", "b2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends.Ports, "grpc", "GRPC"),
            ["dr.yaml"] = DestinationRule(Distribute),
        });
        var (services, channel) = CreateChannel(cp);
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);
        await WaitForZoneAsync(client, "a", TimeSpan.FromSeconds(20));
        await WaitForZoneAsync(client, "b", TimeSpan.FromSeconds(20)); // every endpoint connected

        var zones = await ZonesOfAsync(client, 2000);

        Assert.InRange(zones.GetValueOrDefault("a"), 1520, 1680); // 80 % ± 4 points
        Assert.InRange(zones.GetValueOrDefault("b"), 320, 480);
    }

    [Fact]
    public async Task HttpClient_Failover_EjectedZoneFailsOverAndTrafficReturnsWhenItRecovers()
    {
        await using var backends = await EchoBackends.StartAsync("a1", "a2", "b1", "b2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends.Ports, "http", "HTTP"),
            ["dr.yaml"] = DestinationRule(
                "{outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 100}}"),
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = Bootstrap(cp.XdsAddress));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter")).AddMeshRouting();
        await using var provider = services.BuildServiceProvider();
        var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        async Task<char> ZoneAsync()
        {
            try
            {
                using var response = await http.GetAsync("/hello");
                return response.IsSuccessStatusCode ? (await response.Content.ReadAsStringAsync())[0] : '!';
            }
            catch (HttpRequestException)
            {
                return '!';
            }
        }

        async Task WaitForAsync(char zone, TimeSpan limit)
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < limit && await ZoneAsync() != zone)
            {
                await Task.Delay(50);
            }

            Assert.True(watch.Elapsed < limit, $"no request reached zone {zone} within {limit.TotalSeconds} s");
        }

        // Zone A only, while it is healthy.
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal('a', await ZoneAsync());
        }

        // Zone A stops: outlier detection ejects its endpoints and the requests move to zone B.
        await backends.StopAsync("a1");
        await backends.StopAsync("a2");
        await WaitForAsync('b', TimeSpan.FromSeconds(30));
        await backends.RestartAsync("a1");
        await backends.RestartAsync("a2");

        // Once the ejections expire, zone A (running again) takes the requests back.
        await WaitForAsync('a', TimeSpan.FromSeconds(60));
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal('a', await ZoneAsync());
        }
    }

    [Fact]
    public async Task HttpClient_Distribute80To20_SplitsRequestsBetweenZonesInProportion()
    {
        await using var backends = await EchoBackends.StartAsync("a1", "a2", "b1", "b2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends.Ports, "http", "HTTP"),
            ["dr.yaml"] = DestinationRule(Distribute),
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = Bootstrap(cp.XdsAddress));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter")).AddMeshRouting();
        await using var provider = services.BuildServiceProvider();
        var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        var zones = new Dictionary<char, int>();
        for (var i = 0; i < 2000; i++)
        {
            var body = await http.GetStringAsync("/hello");
            zones[body[0]] = zones.GetValueOrDefault(body[0]) + 1;
        }

        Assert.InRange(zones.GetValueOrDefault('a'), 1520, 1680);
        Assert.InRange(zones.GetValueOrDefault('b'), 320, 480);
    }
}
