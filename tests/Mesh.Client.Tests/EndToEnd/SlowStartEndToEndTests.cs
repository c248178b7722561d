using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// DestinationRule <c>warmupDurationSecs</c> end to end on a gRPC channel: an endpoint added to a running service gets
/// a small share of the calls at first (Envoy's slow start, 10 % of its weight at least) and its full share once the
/// window has passed.
/// </summary>
public sealed class SlowStartEndToEndTests
{
    private const string Rule = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: greeter}
        spec:
          host: greeter
          trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, warmupDurationSecs: 6s}}
        """;

    [Fact]
    public async Task Grpc_WarmupDuration_NewEndpointRampsUpToItsFullShare()
    {
        await using var backends = await GreeterBackends.StartAsync("old", "new");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "old"),
            ["dr.yaml"] = Rule,
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel);

        async Task<string> CallAsync() => (await client.SayHelloAsync(new HelloRequest { Name = "warm" }, deadline: DateTime.UtcNow.AddSeconds(10))).Backend;

        // Past "old"'s own window, then "new" joins.
        Assert.Equal("old", await CallAsync());
        await Task.Delay(TimeSpan.FromSeconds(6.5));
        await cp.WriteFileAsync("se.yaml", MeshYaml.ServiceEntry(backends, "old", "new"));
        for (var i = 0; i < 2000 && await CallAsync() != "new"; i++)
        {
            await Task.Delay(10);
        }

        // Its first two seconds (at most): a factor of 0.1–0.33 against 1, so at most a quarter of the calls, where
        // round robin without slow start gives it half.
        var early = new Dictionary<string, int>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(2) && early.Values.Sum() < 200)
        {
            var backend = await CallAsync();
            early[backend] = early.GetValueOrDefault(backend) + 1;
        }

        var earlyShare = early.GetValueOrDefault("new") / (double)early.Values.Sum();
        Assert.True(early.Values.Sum() >= 20, $"only {early.Values.Sum()} calls in two seconds: too few to measure");
        Assert.InRange(earlyShare, 0.0, 0.4);

        // After the window: round robin, half each.
        await Task.Delay(TimeSpan.FromSeconds(6) - watch.Elapsed);
        var late = new Dictionary<string, int>();
        for (var i = 0; i < 400; i++)
        {
            var backend = await CallAsync();
            late[backend] = late.GetValueOrDefault(backend) + 1;
        }

        Assert.InRange(late.GetValueOrDefault("new"), 180, 220);
    }
}
