using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Mesh.OpenTelemetry.Tests;

/// <summary>AddMeshInstrumentation() collects exactly the Mesh packages' meters and activity sources.</summary>
public sealed class MeshInstrumentationTests
{
    [Fact]
    public void Names_AreThePackageNames()
    {
        // One Meter and one ActivitySource per package, named exactly after it (the names are public API).
        string[] packages = [typeof(Mesh.Client.MeshClientOptions).Assembly.GetName().Name!, typeof(Mesh.Server.IMeshPeerIdentityFeature).Assembly.GetName().Name!];
        Assert.Equal(packages, MeshInstrumentation.MeterNames);
        Assert.Equal(packages, MeshInstrumentation.ActivitySourceNames);
    }

    [Fact]
    public void AddMeshInstrumentation_Metrics_CollectsMeshMetersOnly()
    {
        var exported = new List<Metric>();
        using (var provider = Sdk.CreateMeterProviderBuilder().AddMeshInstrumentation().AddInMemoryExporter(exported).Build())
        {
            using var client = new Meter("Mesh.Client");
            using var server = new Meter("Mesh.Server");
            using var other = new Meter("Other.Library");
            client.CreateCounter<long>("test_client_total").Add(1);
            server.CreateCounter<long>("test_server_total").Add(2);
            other.CreateCounter<long>("test_other_total").Add(3);
            provider.ForceFlush();
        }

        Assert.Equal(["test_client_total", "test_server_total"], exported.Select(m => m.Name).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void AddMeshInstrumentation_Tracing_CollectsMeshSourcesOnly()
    {
        var exported = new List<Activity>();
        using (var provider = Sdk.CreateTracerProviderBuilder().AddMeshInstrumentation().AddInMemoryExporter(exported).Build())
        {
            using var client = new ActivitySource("Mesh.Client");
            using var server = new ActivitySource("Mesh.Server");
            using var other = new ActivitySource("Other.Library");
            client.StartActivity("client-attempt")?.Dispose();
            server.StartActivity("server-request")?.Dispose();
            other.StartActivity("other")?.Dispose();
            provider.ForceFlush();
        }

        Assert.Equal(["client-attempt", "server-request"], exported.Select(a => a.OperationName).Order(StringComparer.Ordinal));
    }
}
