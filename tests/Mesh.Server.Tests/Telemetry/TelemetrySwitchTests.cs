using Mesh.Client.Telemetry;
using Mesh.Server.Tests.EndToEnd;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Server.Tests.Telemetry;

/// <summary>
/// <c>MeshClientOptions.Telemetry</c>: each switch takes its part off the client's call path whoever listens, and
/// leaves the rest working (a Mesh server still counts the caller by the metadata it exchanged).
/// </summary>
public sealed class TelemetrySwitchTests
{
    [Fact]
    public async Task Call_ClientMetricsOff_NoSourceMeasurementButServerStillKnowsTheCaller()
    {
        var cluster = "test-" + Guid.NewGuid().ToString("N")[..12];
        using var metrics = new MetricCollector("Mesh.Client", "Mesh.Server");
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", clusterId: cluster);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("DISABLE"));
        var client = mesh.Client("productpage", clusterId: cluster, configure: o => o.Telemetry.Metrics = false)
            .GetRequiredService<Reviews.Reviews.ReviewsClient>();

        var (_, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());

        bool Destination(CollectedMeasurement m) => m.Tag("reporter") == IstioLabels.Destination && m.Tag("destination_cluster") == cluster && m.Tag("response_code") == "200";
        Assert.True(await metrics.WaitForAsync(m => m.Of("istio_requests_total", Destination).Count > 0), "the server did not count the call");
        var destination = metrics.Of("istio_requests_total", Destination)[^1];
        Assert.Equal("productpage", destination.Tag("source_workload")); // the metadata exchange still ran
        Assert.Equal(cluster, destination.Tag("source_cluster"));

        await Task.Delay(300); // a source measurement, if one were made, is recorded when the response ends
        Assert.Empty(metrics.Of("istio_requests_total", m => m.Tag("reporter") == IstioLabels.Source && m.Tag("source_cluster") == cluster));
    }

    [Fact]
    public async Task Call_MetadataExchangeOff_ServerSeesAnUnknownCallerAndClientAnUnknownPeer()
    {
        var cluster = "test-" + Guid.NewGuid().ToString("N")[..12];
        using var metrics = new MetricCollector("Mesh.Client", "Mesh.Server");
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", clusterId: cluster);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("DISABLE"));
        var client = mesh.Client("productpage", clusterId: cluster, configure: o => o.Telemetry.MetadataExchange = false)
            .GetRequiredService<Reviews.Reviews.ReviewsClient>();

        var (_, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());

        bool Destination(CollectedMeasurement m) => m.Tag("reporter") == IstioLabels.Destination && m.Tag("destination_cluster") == cluster && m.Tag("response_code") == "200";
        Assert.True(await metrics.WaitForAsync(m => m.Of("istio_requests_total", Destination).Count > 0), "the server did not count the call");
        Assert.Equal("unknown", metrics.Of("istio_requests_total", Destination)[^1].Tag("source_workload"));

        // The client still measures its own side (metrics are on); without the exchange the server does not answer with
        // its metadata either, so the destination workload is unknown too.
        bool Source(CollectedMeasurement m) => m.Tag("reporter") == IstioLabels.Source && m.Tag("source_cluster") == cluster && m.Tag("response_code") == "200";
        Assert.True(await metrics.WaitForAsync(m => m.Of("istio_requests_total", Source).Count > 0), "the client did not count the call");
        var source = metrics.Of("istio_requests_total", Source)[^1];
        Assert.Equal("productpage", source.Tag("source_workload"));
        Assert.Equal("reviews.default.svc.cluster.local", source.Tag("destination_service"));
    }
}
