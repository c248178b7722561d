using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Policies;

/// <summary>
/// The Grpc.Net.Client (2.85) behaviour the mesh call handler depends on, pinned so an upgrade that changes it fails here:
/// the resolver factory sees the channel's options before the channel builds its HTTP invoker (so the handler it installs
/// carries every call), and the balancer hands the picked subchannel to the handler chain under the request options
/// "Subchannel" and "CurrentAddress" (which retry attempts set the same way).
/// </summary>
public sealed class GrpcNetClientContractTests
{
    private sealed class RecordingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        public ConcurrentQueue<string[]> Options { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Options.Enqueue([.. request.Options.Select(o => o.Key)]);
            return base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task ChannelHandler_SetByResolverFactory_CarriesCalls_WithTheBalancersSubchannelOptions()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a"),
        });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        await using var provider = services.BuildServiceProvider();
        var recorder = new RecordingHandler(new SocketsHttpHandler());
        var options = new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure, HttpHandler = recorder };
        using var channel = GrpcChannel.ForAddress("xds:///greeter:9080", options);

        Assert.IsType<Mesh.Client.Policies.MeshCallHandler>(options.HttpHandler); // installed by the resolver factory
        var client = new Greeter.GreeterClient(channel);
        await client.SayHelloAsync(new HelloRequest { Name = "x" }, deadline: DateTime.UtcNow.AddSeconds(10));

        var seen = Assert.Single(recorder.Options);
        Assert.Contains("Subchannel", seen);
        Assert.Contains("CurrentAddress", seen);
    }
}
