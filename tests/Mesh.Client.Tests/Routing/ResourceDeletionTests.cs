using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Tests.EndToEnd;
using Mesh.Testing;
using Mesh.Tests;
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
}
