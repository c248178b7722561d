using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.LoadBalancing.RingHash;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// Each DestinationRule consistentHash kind end to end through the public API: cookie and query parameter on the
/// HttpClient path reach the endpoint the A42 ring chooses for the value; source IP (the channel id for a proxyless
/// client) keeps every call of a channel on one endpoint.
/// </summary>
public sealed class ConsistentHashKindsTests
{
    private static readonly string[] Names = ["a", "b", "c", "d"];

    private static async Task<(ServiceProvider Provider, TestControlPlane ControlPlane)> StartAsync(IReadOnlyDictionary<string, int> ports, string portName, string protocol, string consistentHash)
    {
        var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(ports, portName, protocol, Names),
            ["dr.yaml"] = MeshYaml.DestinationRule($"  trafficPolicy: {{loadBalancer: {{consistentHash: {consistentHash}}}}}"),
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter")).AddMeshRouting();
        return (services.BuildServiceProvider(), cp);
    }

    private static HashRing<string> Ring(Dictionary<string, int> ports) =>
        HashRing<string>.Build([.. Names.Select(n => new RingEndpoint<string>(n, "127.0.0.1:" + ports[n], 1))], 1024, 8 * 1024 * 1024, HashRing<string>.GrpcDefaultRingSizeCap);

    private static async Task AssertKeysReachTheirRingOwnerAsync(HttpClient client, HashRing<string> ring, Func<string, HttpRequestMessage> request)
    {
        var owners = new HashSet<string>();
        for (var user = 0; user < 30; user++)
        {
            var key = "user-" + user;
            var expected = ring.Pick(Xxh64.Hash(key));
            for (var call = 0; call < 3; call++)
            {
                using var message = request(key);
                using var response = await client.SendAsync(message);
                Assert.Equal(expected, (await response.Content.ReadAsStringAsync()).Split(' ')[0]);
            }

            owners.Add(expected);
        }

        Assert.True(owners.Count > 1, "every key landed on one endpoint");
    }

    [Fact]
    public async Task HttpClient_CookieHash_EachCookieValueReachesTheEndpointTheRingChooses()
    {
        await using var backends = await EchoBackends.StartAsync(Names);
        var (provider, cp) = await StartAsync(backends.Ports, "http", "HTTP", "{httpCookie: {name: session, ttl: 60s}}");
        await using var _ = cp;
        await using var __ = provider;
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        await AssertKeysReachTheirRingOwnerAsync(client, Ring(backends.Ports), key =>
        {
            var message = new HttpRequestMessage(HttpMethod.Get, "/hello");
            message.Headers.Add("Cookie", $"other=x; session={key}; last=y");
            return message;
        });
    }

    [Fact]
    public async Task HttpClient_QueryParameterHash_EachValueReachesTheEndpointTheRingChooses()
    {
        await using var backends = await EchoBackends.StartAsync(Names);
        var (provider, cp) = await StartAsync(backends.Ports, "http", "HTTP", "{httpQueryParameterName: user}");
        await using var _ = cp;
        await using var __ = provider;
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        await AssertKeysReachTheirRingOwnerAsync(client, Ring(backends.Ports), key => new HttpRequestMessage(HttpMethod.Get, $"/hello?page=2&user={key}"));
    }

    [Fact]
    public async Task HttpClient_HeaderHash_EachValueReachesTheEndpointTheRingChooses()
    {
        await using var backends = await EchoBackends.StartAsync(Names);
        var (provider, cp) = await StartAsync(backends.Ports, "http", "HTTP", "{httpHeaderName: x-user}");
        await using var _ = cp;
        await using var __ = provider;
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        await AssertKeysReachTheirRingOwnerAsync(client, Ring(backends.Ports), key =>
        {
            var message = new HttpRequestMessage(HttpMethod.Get, "/hello");
            message.Headers.Add("x-user", key);
            return message;
        });
    }

    [Fact]
    public async Task GrpcChannel_SourceIpHash_EveryCallOfAChannelLandsOnOneEndpoint()
    {
        await using var backends = await GreeterBackends.StartAsync(Names);
        var (provider, cp) = await StartAsync(backends.Ports, "grpc", "GRPC", "{useSourceIp: true}");
        await using var _ = cp;
        await using var __ = provider;

        // Every channel stays open to the end: each has its own id, so its own place on the ring.
        var channels = new List<GrpcChannel>();
        for (var c = 0; c < 8; c++)
        {
            channels.Add(GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure }));
        }

        using var closeAll = new ChannelsDisposer(channels);
        var owners = new HashSet<string>();
        foreach (var channel in channels)
        {
            var client = new Greeter.GreeterClient(channel);
            for (var i = 0; i < 50 && !await CallSucceedsAsync(client); i++)
            {
            }

            // A channel's first calls may walk past endpoints still connecting (the ring takes the next ready one); once
            // every endpoint is connected it stays on one: ten calls in a row on the same endpoint, within 20 tries.
            string? settled = null;
            for (var attempt = 0; attempt < 20 && settled is null; attempt++)
            {
                var first = (await client.SayHelloAsync(new HelloRequest { Name = "t" }, deadline: DateTime.UtcNow.AddSeconds(10))).Backend;
                var same = true;
                for (var i = 0; i < 10 && same; i++)
                {
                    same = first == (await client.SayHelloAsync(new HelloRequest { Name = "t" }, deadline: DateTime.UtcNow.AddSeconds(10))).Backend;
                }

                settled = same ? first : null;
            }

            Assert.True(settled is not null, "the channel's calls never stayed on one endpoint for ten calls in a row");

            owners.Add(settled);
        }

        Assert.True(owners.Count > 1, "every channel landed on one endpoint");
    }

    private sealed class ChannelsDisposer(List<GrpcChannel> channels) : IDisposable
    {
        public void Dispose() => channels.ForEach(c => c.Dispose());
    }

    private static async Task<bool> CallSucceedsAsync(Greeter.GreeterClient client)
    {
        try
        {
            await client.SayHelloAsync(new HelloRequest { Name = "warm" }, deadline: DateTime.UtcNow.AddSeconds(2));
            return true;
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.DeadlineExceeded or StatusCode.Unavailable)
        {
            return false;
        }
    }
}
