using Grpc.Net.Client.Balancer;
using Grpc.Net.ClientFactory;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests;

/// <summary>AddMesh() is idempotent and its options are checked when the application starts.</summary>
public sealed class MeshServiceCollectionExtensionsTests
{
    private const string Bootstrap = """{"xds_servers": [{"server_uri": "127.0.0.1:1", "channel_creds": [{"type": "insecure"}]}], "node": {"id": "n"}}""";

    private static int ChannelActions(IServiceCollection services)
    {
        services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = new Uri("xds:///greeter:9080"));
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptionsMonitor<GrpcClientFactoryOptions>>().Get(nameof(Greeter.GreeterClient)).ChannelOptionsActions.Count;
    }

    [Fact]
    public void AddMesh_Twice_RegistersEverythingOnce()
    {
        var once = new ServiceCollection().AddLogging();
        once.AddMesh(o => o.BootstrapJson = Bootstrap);
        var twice = new ServiceCollection().AddLogging();
        twice.AddMesh(o => o.BootstrapJson = Bootstrap);
        var builder = twice.AddMesh();

        Assert.Same(twice, builder.Services);
        Assert.Single(twice, d => d.ServiceType == typeof(ResolverFactory));
        Assert.Single(twice, d => d.ServiceType == typeof(LoadBalancerFactory));
        Assert.Equal(ChannelActions(once), ChannelActions(twice));
        Assert.Equal(once.Count, twice.Count); // the second call (no configuration of its own) adds nothing
    }

    [Fact]
    public void AddMesh_NonPositiveRetryBuffer_FailsValidationNamingTheOption()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o =>
        {
            o.BootstrapJson = Bootstrap;
            o.RetryBufferPerCallSize = 0;
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<MeshClientOptions>>().Value);
        Assert.Contains("RetryBufferPerCallSize", error.Message, StringComparison.Ordinal);
    }
}
