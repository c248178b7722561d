using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Testing;
using Mesh.Tests;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>The Mesh.Client meter reports xDS updates, connection state and picks.</summary>
public sealed class DiagnosticsTests
{
    [Fact]
    public async Task MeshClientMeter_ReportsResourceUpdatesConnectionStateAndPicks()
    {
        var seen = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Mesh.Client")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name;
            foreach (var tag in tags)
            {
                key += $"|{tag.Key}={tag.Value}";
            }

            seen.AddOrUpdate(key, value, (_, n) => n + value);
        });
        listener.Start();

        await using var backends = await GreeterBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = MeshYaml.ServiceEntry(backends, "a") });
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        await using var provider = services.BuildServiceProvider();
        using var channel = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = provider, Credentials = ChannelCredentials.Insecure });
        for (var i = 0; i < 10; i++)
        {
            await new Greeter.GreeterClient(channel).SayHelloAsync(new HelloRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        }

        Assert.True(seen.GetValueOrDefault("mesh.client.picks|mesh.pick.result=complete") >= 10);
        Assert.True(seen.GetValueOrDefault($"mesh.client.xds.resource_updates|mesh.xds.type={Mesh.Xds.XdsTypeUrls.Listener}") >= 1);
        Assert.True(seen.GetValueOrDefault($"mesh.client.xds.resource_updates|mesh.xds.type={Mesh.Xds.XdsTypeUrls.ClusterLoadAssignment}") >= 1);
        Assert.True(seen.GetValueOrDefault("mesh.client.xds.connection_state_changes|mesh.xds.state=connected") >= 1);
    }
}
