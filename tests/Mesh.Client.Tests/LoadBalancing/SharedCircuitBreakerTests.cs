using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.LoadBalancing;

/// <summary>A32: a cluster's max_requests limits the whole client — every channel and HttpClient together.</summary>
public sealed class SharedCircuitBreakerTests
{
    [Fact]
    public async Task TwoChannelsAndAnHttpClient_OneCluster_ShareOneCircuitBreakerCount()
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
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a"),
            ["dr.yaml"] = breaker,
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        services.AddHttpClient("greeter", c =>
        {
            c.BaseAddress = new Uri("http://greeter:9080");
            c.DefaultRequestVersion = HttpVersion.Version20;
            c.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }).AddMeshRouting();
        await using var provider = services.BuildServiceProvider();
        using var first = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        using var second = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions().UseMesh(provider));
        var clients = new[] { new Greeter.GreeterClient(first), new Greeter.GreeterClient(second) };
        var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("greeter");
        foreach (var client in clients)
        {
            await client.SayHelloAsync(new HelloRequest { Name = "warm-up" }, deadline: DateTime.UtcNow.AddSeconds(10));
        }

        Assert.Equal("a", await http.GetStringAsync("/slow/1"));
        backends.Reset();

        async Task<bool> GrpcAsync(Greeter.GreeterClient client)
        {
            try
            {
                await client.SayHelloSlowlyAsync(new HelloRequest { DelayMs = 1000 }, deadline: DateTime.UtcNow.AddSeconds(10));
                return true;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                return false;
            }
        }

        async Task<bool> HttpAsync()
        {
            using var response = await http.GetAsync("/slow/1000");
            return response.StatusCode == HttpStatusCode.OK;
        }

        var calls = new List<Task<bool>>();
        for (var i = 0; i < 10; i++)
        {
            calls.Add(GrpcAsync(clients[0]));
            calls.Add(GrpcAsync(clients[1]));
            calls.Add(HttpAsync());
        }

        var results = await Task.WhenAll(calls);

        Assert.Equal(10, backends.PeakInFlight);
        Assert.Equal(10, results.Count(ok => ok));
        Assert.Equal(10, backends.Total);
    }
}
