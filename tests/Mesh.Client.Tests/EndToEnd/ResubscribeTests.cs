using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// A channel disposed and a new one opened for the same target in the same process: the last watch of the
/// listener goes and a new one comes, and the second channel must get its configuration promptly.
/// </summary>
public sealed class ResubscribeTests
{
    private const string Target = "xds:///greeter:9080";

    [Fact]
    public async Task DisposeChannelThenReopenSameTarget_SecondChannelCallsSucceedWithinSeconds()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a") });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        await using var provider = services.BuildServiceProvider();

        for (var round = 0; round < 3; round++)
        {
            var watch = Stopwatch.StartNew();
            using (var channel = GrpcChannel.ForAddress(Target, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure }))
            {
                var client = new Greeter.GreeterClient(channel);
                var reply = await client.SayHelloAsync(new HelloRequest { Name = "round" + round }, deadline: DateTime.UtcNow.AddSeconds(20));
                Assert.Equal("a", reply.Backend);
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"round {round}: the first call took {watch.Elapsed}");
        }
    }

    [Fact]
    public async Task SameChannelOptionsForASecondChannel_AfterTheFirstIsDisposed_CallsSucceed()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a") });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        await using var provider = services.BuildServiceProvider();
        var options = new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure, DisposeHttpClient = true };

        for (var round = 0; round < 2; round++)
        {
            using var channel = GrpcChannel.ForAddress(Target, options);
            var reply = await new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest { Name = "round" + round }, deadline: DateTime.UtcNow.AddSeconds(20));
            Assert.Equal("a", reply.Backend);
        }
    }
}
