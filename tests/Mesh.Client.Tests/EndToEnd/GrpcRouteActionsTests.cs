using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// VirtualService route actions on the gRPC path, end to end: what a channel does with a rewrite, header changes and
/// mirrors (not applied, as in gRPC's own xDS clients, gRFC A28 — and reported, never dropped silently), and with
/// redirect and direct response (calls fail UNAVAILABLE naming the reason).
/// </summary>
public sealed class GrpcRouteActionsTests
{
    private static string Rules(string rules) => $"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {"{"}name: greeter{"}"}
        spec:
          hosts: [greeter]
          http:
        {rules}
        """;

    private static async Task<(ServiceProvider Services, GrpcChannel Channel, TestControlPlane ControlPlane, InMemoryLogSink Logs)> StartAsync(GreeterBackends backends, string virtualService)
    {
        var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, [.. backends.Ports.Keys]),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: [.. backends.Ports.Keys]),
            ["vs.yaml"] = virtualService,
        });
        var logs = new InMemoryLogSink();
        var services = new ServiceCollection().AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        var provider = services.BuildServiceProvider();
        var channel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        return (provider, channel, cp, logs);
    }

    [Fact]
    public async Task Grpc_RewriteHeadersAndMirror_CallsReachTheRouteUnchangedAndTheGapIsReported()
    {
        await using var backends = await GreeterBackends.StartAsync("v1", "shadow");
        var (services, channel, cp, logs) = await StartAsync(backends, Rules("""
              - name: greet
                rewrite: {uri: /elsewhere/}
                headers:
                  request: {set: {x-mesh-set: one}, add: {x-mesh-added: two}}
                  response: {set: {x-mesh-response: three}}
                route: [{destination: {host: greeter, subset: v1}}]
                mirror: {host: greeter, subset: shadow}
            """));
        await using var _ = cp;
        await using var __ = services;
        using var ___ = channel;
        var client = new Greeter.GreeterClient(channel);

        for (var i = 0; i < 20; i++)
        {
            // Were the rewrite applied, the method path would change and the call fail UNIMPLEMENTED.
            var call = client.SayHelloAsync(new HelloRequest { Name = "plain" }, deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.Equal("v1", (await call).Backend);
            Assert.Null((await call.ResponseHeadersAsync).GetValue("x-mesh-response"));
        }

        await Task.Delay(300); // a mirrored copy, had one been sent, would have arrived by now

        Assert.Equal(20, backends.Calls.GetValueOrDefault("v1"));
        Assert.Equal(0, backends.Calls.GetValueOrDefault("shadow"));
        Assert.Empty(backends.MeshHeaders);
        var warning = logs.Entries.First(e => e.Level == LogLevel.Warning && e.Message.Contains("not applied to gRPC calls", StringComparison.Ordinal));
        Assert.StartsWith("Route greet ", warning.Message, StringComparison.Ordinal);
        Assert.Contains("rewrite, request header changes, response header changes, mirrors", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grpc_RedirectAndDirectResponse_CallsFailUnavailableNamingTheRoute()
    {
        await using var backends = await GreeterBackends.StartAsync("v1");
        var (services, channel, cp, _) = await StartAsync(backends, Rules("""
              - match: [{uri: {prefix: /mesh.tests.Greeter/SayHellos}}]
                redirect: {uri: /new, authority: moved.example}
              - match: [{uri: {exact: /mesh.tests.Greeter/SayHelloSlowly}}]
                directResponse: {status: 503, body: {string: "down for maintenance"}}
              - route: [{destination: {host: greeter}}]
            """));
        await using var __ = cp;
        await using var ___ = services;
        using var ____ = channel;
        var client = new Greeter.GreeterClient(channel);
        Assert.Equal("v1", (await client.SayHelloAsync(new HelloRequest { Name = "ok" }, deadline: DateTime.UtcNow.AddSeconds(10))).Backend);

        var direct = await Assert.ThrowsAsync<RpcException>(async () => await client.SayHelloSlowlyAsync(new HelloRequest { Name = "x" }, deadline: DateTime.UtcNow.AddSeconds(10)));
        using var stream = client.SayHellos(new HelloRequest { Name = "x" }, deadline: DateTime.UtcNow.AddSeconds(10));
        var redirect = await Assert.ThrowsAsync<RpcException>(async () => await stream.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.Unavailable, direct.StatusCode);
        Assert.Equal(StatusCode.Unavailable, redirect.StatusCode);
        Assert.Contains("does not forward", direct.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, backends.Total);
    }
}
