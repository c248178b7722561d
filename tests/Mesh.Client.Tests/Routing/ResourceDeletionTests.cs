using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Mesh.Tests;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Routing;

/// <summary>State-of-the-world deletion of a target's resources, then the identical resources again: traffic resumes.</summary>
public sealed class ResourceDeletionTests
{
    private static async Task<StatusCode> CallAsync(Greeter.GreeterClient client)
    {
        try
        {
            await client.SayHelloAsync(new HelloRequest { Name = "x" }, deadline: DateTime.UtcNow.AddSeconds(2));
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static async Task<StatusCode> UntilAsync(Greeter.GreeterClient client, Func<StatusCode, bool> done)
    {
        var status = StatusCode.Unknown;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            status = await CallAsync(client);
            if (done(status))
            {
                break;
            }

            await Task.Delay(50);
        }

        return status;
    }

    [Fact]
    public async Task ServiceEntryDeleted_ThenReAddedIdentical_TrafficResumes()
    {
        // Removing the file deletes the listener, its route configuration, the cluster and its endpoints (SotW).
        await using var backends = await GreeterBackends.StartAsync("a");
        var serviceEntry = MeshYaml.ServiceEntry(backends, "a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = serviceEntry });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var client = new Greeter.GreeterClient(channel);
        Assert.Equal(StatusCode.OK, await UntilAsync(client, s => s == StatusCode.OK));

        cp.DeleteFile("se.yaml");
        Assert.Equal(StatusCode.Unavailable, await UntilAsync(client, s => s == StatusCode.Unavailable));
        await Task.Delay(2500);

        await cp.WriteFileAsync("se.yaml", serviceEntry);
        Assert.Equal(StatusCode.OK, await UntilAsync(client, s => s == StatusCode.OK));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(StatusCode.OK, await CallAsync(client));
        }
    }

    private const string ListenerName = MeshXds.ListenerName;
    private const string ClusterName = "greeter-cluster";

    /// <summary>
    /// A Listener or a Cluster removed from a state-of-the-world response, then sent again identical: the gRPC channel
    /// and the HttpClient fail while it is gone and resume when it is back, without a restart.
    /// </summary>
    [Theory]
    [InlineData("listener", "grpc")]
    [InlineData("listener", "http")]
    [InlineData("cluster", "grpc")]
    [InlineData("cluster", "http")]
    public async Task ResourceDeletedThenReAddedIdentical_TrafficResumes(string kind, string path)
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var server = await FakeAdsServer.StartAsync();
        var resources = new Dictionary<string, IMessage>
        {
            [ListenerName] = MeshXds.Listener([MeshXds.RouteTo(ClusterName)]),
            [ClusterName] = MeshXds.Cluster(ClusterName),
            [ClusterName + "-eds"] = MeshXds.Endpoints(ClusterName, backends.Ports["a"]),
        };
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(server.Address, "deletion-" + kind + "-" + path));
        services.AddHttpClient("greeter", c =>
        {
            c.BaseAddress = new Uri("http://" + ListenerName);
            c.DefaultRequestVersion = HttpVersion.Version20;
            c.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }).AddMeshRouting();
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///" + ListenerName, new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        var grpc = new Greeter.GreeterClient(channel);
        var http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("greeter");
        Func<Task<bool>> call = path == "grpc"
            ? async () => await CallAsync(grpc) == StatusCode.OK
            : async () =>
            {
                using var response = await http.GetAsync("/slow/1");
                return response.StatusCode == HttpStatusCode.OK;
            };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var first = call();
        var stream = await server.NextStreamAsync(TimeSpan.FromSeconds(10));
        var serving = MeshXds.ServeAsync(stream, resources, cts.Token);
        Assert.True(await first, "the first call failed");

        var (typeUrl, name) = kind == "listener" ? (XdsTypeUrls.Listener, ListenerName) : (XdsTypeUrls.Cluster, ClusterName);
        var removed = resources[name];
        lock (resources)
        {
            resources.Remove(name);
        }

        await stream.SendAsync(typeUrl, "2");
        Assert.False(await UntilAsync(call, ok => !ok), "calls kept succeeding after the deletion");

        lock (resources)
        {
            resources[name] = removed;
        }

        await stream.SendAsync(typeUrl, "3", removed);
        Assert.True(await UntilAsync(call, ok => ok), "traffic did not resume after the identical resource came back");
        for (var i = 0; i < 20; i++)
        {
            Assert.True(await call());
        }

        await cts.CancelAsync();
        await serving;
    }

    private static async Task<bool> UntilAsync(Func<Task<bool>> call, Func<bool, bool> done)
    {
        var result = false;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            result = await call();
            if (done(result))
            {
                break;
            }

            await Task.Delay(50);
        }

        return result;
    }
}
