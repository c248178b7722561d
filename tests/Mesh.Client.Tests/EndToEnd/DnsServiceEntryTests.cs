using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// ServiceEntry <c>resolution: DNS</c> end to end (gRFC A37): the control plane serves a LOGICAL_DNS or STRICT_DNS
/// cluster with its names inline, and the client resolves them with the system resolver into endpoints, through the
/// public API only.
/// </summary>
public sealed class DnsServiceEntryTests
{
    private static (ServiceProvider Services, GrpcChannel Channel) CreateChannel(TestControlPlane cp, string target)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://" + target)).AddMeshRouting();
        var provider = services.BuildServiceProvider();
        var channel = GrpcChannel.ForAddress("xds:///" + target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        return (provider, channel);
    }

    [Fact]
    public async Task GrpcChannel_DnsServiceEntryForLocalhost_ResolvesTheHostAndReachesTheBackend()
    {
        await using var backends = await GreeterBackends.StartAsync("dns");
        var port = backends.Ports["dns"];
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = $$"""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: local-greeter}
                spec:
                  hosts: [localhost]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports: [{number: {{port}}, name: grpc, protocol: GRPC}]
                """,
        });
        var (services, channel) = CreateChannel(cp, $"localhost:{port}");
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);

        for (var i = 0; i < 20; i++)
        {
            var reply = await client.SayHelloAsync(new HelloRequest { Name = "dns" }, deadline: DateTime.UtcNow.AddSeconds(10));
            Assert.Equal("dns", reply.Backend);
        }

        Assert.Equal(20, backends.Calls.GetValueOrDefault("dns"));
    }

    [Fact]
    public async Task GrpcChannel_DnsServiceEntryWithTwoNamedEndpoints_SharesCallsOverBoth()
    {
        await using var backends = await GreeterBackends.StartAsync("a", "b");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = $$$"""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: greeter}
                spec:
                  hosts: [greeter.example.com]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports: [{number: 9080, name: grpc, protocol: GRPC}]
                  endpoints:
                  - {address: localhost, ports: {grpc: {{{backends.Ports["a"]}}}}}
                  - {address: localhost, ports: {grpc: {{{backends.Ports["b"]}}}}}
                """,
        });
        var (services, channel) = CreateChannel(cp, "greeter.example.com:9080");
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);

        for (var i = 0; i < 200; i++)
        {
            await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        }

        Assert.InRange(backends.Calls.GetValueOrDefault("a"), 70, 130);
        Assert.InRange(backends.Calls.GetValueOrDefault("b"), 70, 130);
    }

    [Fact]
    public async Task HttpClient_DnsServiceEntryForLocalhost_ResolvesTheHostAndReachesTheBackend()
    {
        await using var backends = await RestBackends.StartAsync("dns");
        var port = backends.Ports["dns"];
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = $$"""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: local-rest}
                spec:
                  hosts: [localhost]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports: [{number: {{port}}, name: http, protocol: HTTP}]
                """,
        });
        var (services, channel) = CreateChannel(cp, $"localhost:{port}");
        using var _ = channel;
        await using var __ = services;
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        var body = await client.GetStringAsync("/hello");

        Assert.StartsWith("dns ", body, StringComparison.Ordinal);
        Assert.Equal(1, backends.Calls.GetValueOrDefault("dns"));
    }

    [Fact]
    public async Task GrpcChannel_DnsNameThatDoesNotResolve_FailsUnavailableNamingTheHost()
    {
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: nowhere}
                spec:
                  hosts: [nowhere.invalid]
                  location: MESH_EXTERNAL
                  resolution: DNS
                  ports: [{number: 9080, name: grpc, protocol: GRPC}]
                """,
        });
        var (services, channel) = CreateChannel(cp, "nowhere.invalid:9080");
        using var _ = channel;
        await using var __ = services;
        var client = new Greeter.GreeterClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10)));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("nowhere.invalid", error.Status.Detail, StringComparison.Ordinal);
    }
}
