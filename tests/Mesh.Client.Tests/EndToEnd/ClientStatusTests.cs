using Envoy.Admin.V3;
using Envoy.Service.Status.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>A running service can be asked, over CSDS, what xDS configuration it holds.</summary>
public sealed class ClientStatusTests
{
    [Fact]
    public async Task Csds_MappedInApp_ReportsAckedResourcesWithVersions()
    {
        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a") });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress, "csds-app"));
        await using var app = builder.Build();
        app.MapGrpcService<MeshClientStatusService>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        // The app calls a mesh service, so its xDS client holds the greeter's configuration.
        using var meshChannel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = app.Services, Credentials = ChannelCredentials.Insecure });
        await new Greeter.GreeterClient(meshChannel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10));

        using var csdsChannel = GrpcChannel.ForAddress(address);
        var response = await new ClientStatusDiscoveryService.ClientStatusDiscoveryServiceClient(csdsChannel).FetchClientStatusAsync(new ClientStatusRequest());

        var config = Assert.Single(response.Config);
        Assert.Equal("csds-app", config.Node.Id);
        var byName = config.GenericXdsConfigs.ToDictionary(c => (c.TypeUrl, c.Name));
        const string Cluster = "outbound|9080||greeter.default.svc.cluster.local";
        Assert.Equal(ClientResourceStatus.Acked, byName[(Mesh.Xds.XdsTypeUrls.Listener, "greeter:9080")].ClientStatus);
        Assert.Equal(ClientResourceStatus.Acked, byName[(Mesh.Xds.XdsTypeUrls.RouteConfiguration, "greeter.default.svc.cluster.local:9080")].ClientStatus);
        Assert.Equal(ClientResourceStatus.Acked, byName[(Mesh.Xds.XdsTypeUrls.Cluster, Cluster)].ClientStatus);
        Assert.Equal(ClientResourceStatus.Acked, byName[(Mesh.Xds.XdsTypeUrls.ClusterLoadAssignment, Cluster)].ClientStatus);
        Assert.All(config.GenericXdsConfigs, c => Assert.False(string.IsNullOrEmpty(c.VersionInfo)));
        Assert.NotNull(byName[(Mesh.Xds.XdsTypeUrls.Listener, "greeter:9080")].XdsConfig);
    }
}
