using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.LoadBalancing.RingHash;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>Ring hash over real sockets agrees with the gRFC A42 algorithm computed independently.</summary>
public sealed class RingHashEndToEndTests
{
    [Fact]
    public async Task RingHash_HeaderKeys_ReachTheEndpointTheA42RingChooses()
    {
        string[] names = ["a", "b", "c", "d"];
        await using var backends = await GreeterBackends.StartAsync(names);
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, names),
            ["dr.yaml"] = MeshYaml.DestinationRule("  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}"),
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel);

        // Equal weights in one locality: the ring of A42 with the default sizes and gRPC's cap.
        var ring = HashRing<string>.Build([.. names.Select(n => new RingEndpoint<string>(n, "127.0.0.1:" + backends.Ports[n], 1))], 1024, 8 * 1024 * 1024, HashRing<string>.GrpcDefaultRingSizeCap);

        // Warm up until every endpoint is connected, so no call walks past a connecting one.
        for (var i = 0; i < 200 && backends.Calls.Count < names.Length; i++)
        {
            await client.SayHelloAsync(new HelloRequest { Name = "warm" }, new Metadata { { "x-user", "warm-" + i } }, deadline: DateTime.UtcNow.AddSeconds(10));
        }

        var owners = new HashSet<string>();
        for (var user = 0; user < 40; user++)
        {
            var key = "user-" + user;
            var expected = ring.Pick(Xxh64.Hash(key));
            for (var call = 0; call < 3; call++)
            {
                var reply = await client.SayHelloAsync(new HelloRequest { Name = "t" }, new Metadata { { "x-user", key } }, deadline: DateTime.UtcNow.AddSeconds(10));
                Assert.Equal(expected, reply.Backend);
            }

            owners.Add(expected);
        }

        Assert.True(owners.Count > 1);
    }
}
