using Mesh.Server.Tests.EndToEnd;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Mesh.Server.Tests.Telemetry;

/// <summary>
/// Istio's metrics through OpenTelemetry's Prometheus exporter into a real Prometheus: a Mesh server exposing
/// <c>/metrics</c>, a Mesh client calling it over mTLS, Prometheus scraping every second, then Kiali's own graph
/// queries (written as Kiali writes them, plus a filter on this test's cluster id) return the edge.
/// </summary>
public sealed class PrometheusTests
{
    private const string Labels = "source_workload, source_workload_namespace, source_canonical_service, destination_workload, destination_service_name, destination_canonical_service, request_protocol, response_code, grpc_response_status, response_flags";

    [Fact]
    public async Task Prometheus_ScrapesMeshServer_KialiGraphQueriesReturnTheEdgeWithIstioNames()
    {
        var cluster = "prom-" + Guid.NewGuid().ToString("N")[..10];
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync(
            "reviews",
            "reviews",
            protocols: HttpProtocols.Http1AndHttp2,
            clusterId: cluster,
            configure: builder => builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeshInstrumentation().AddPrometheusExporter()),
            map: app => app.MapPrometheusScrapingEndpoint());
        const string Mutual = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: default}
            spec:
              host: reviews
              trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
            """;
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", string.Join("\n---\n", SecureMesh.ReviewsEntry(port), SecureMesh.PeerAuthentication("PERMISSIVE"), Mutual));
        var client = mesh.Client("productpage", clusterId: cluster).GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (_, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());

        using var prometheus = await PrometheusProcess.StartAsync($"127.0.0.1:{port}");
        using var load = new CancellationTokenSource();
        var sent = 0;
        var traffic = Task.Run(async () =>
        {
            while (!load.IsCancellationRequested)
            {
                await client.GetReviewsAsync(new Reviews.ReviewsRequest { Product = "1" }, deadline: DateTime.UtcNow.AddSeconds(5));
                Interlocked.Increment(ref sent);
                await Task.Delay(50);
            }
        });

        try
        {
            // Kiali's outgoing-traffic query for the namespace (graph/telemetry/istio/istio.go), reporter="source".
            var outgoing = await prometheus.QueryUntilAsync(
                $$"""sum(rate(istio_requests_total{reporter="source",source_workload_namespace="default",source_cluster="{{cluster}}"}[1m])) by ({{Labels}})""",
                r => r.Any(s => s.Value > 0));
            var edge = Assert.Single(outgoing, s => s.Labels["destination_workload"] == "reviews");
            Assert.Equal("productpage", edge.Labels["source_workload"]);
            Assert.Equal("reviews", edge.Labels["destination_service_name"]);
            Assert.Equal("grpc", edge.Labels["request_protocol"]);
            Assert.Equal("200", edge.Labels["response_code"]);
            Assert.Equal("0", edge.Labels["grpc_response_status"]);
            Assert.Equal("-", edge.Labels["response_flags"]);
            Assert.True(edge.Value > 0);

            // The destination-reported twin (incoming traffic of the namespace).
            var incoming = await prometheus.QueryUntilAsync(
                $$"""sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="default",source_cluster="{{cluster}}"}[1m])) by ({{Labels}})""",
                r => r.Any(s => s.Value > 0 && s.Labels["source_workload"] == "productpage"));
            Assert.Contains(incoming, s => s.Labels["source_workload"] == "productpage" && s.Labels["destination_workload"] == "reviews" && s.Labels["response_code"] == "200");

            // The security appender's query: the edge is mutual TLS.
            var security = await prometheus.QueryUntilAsync(
                $$"""sum(rate(istio_requests_total{reporter="destination",source_cluster="{{cluster}}"}[1m])) by (source_workload, destination_workload, connection_security_policy, source_principal, destination_principal)""",
                r => r.Any(s => s.Value > 0));
            var secured = Assert.Single(security, s => s.Labels["source_workload"] == "productpage");
            Assert.Equal("mutual_tls", secured.Labels["connection_security_policy"]);
            Assert.Equal("spiffe://cluster.local/ns/default/sa/productpage", secured.Labels["source_principal"]);
            Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", secured.Labels["destination_principal"]);

            // The response-time appender's quantile over Envoy's buckets.
            var p99 = await prometheus.QueryUntilAsync(
                $$"""histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="source",source_cluster="{{cluster}}"}[1m])) by (le, source_workload, destination_workload))""",
                r => r.Any(s => s.Value > 0 && s.Labels["destination_workload"] == "reviews"));
            Assert.InRange(Assert.Single(p99, s => s.Labels["destination_workload"] == "reviews").Value, 0.001, 5000);

            // The names as Prometheus stores them are istio-proxy's, with no unit or type suffix added by the exporter.
            var names = await prometheus.MetricNamesAsync();
            foreach (var expected in new[]
            {
                "istio_requests_total", "istio_request_duration_milliseconds_bucket", "istio_request_duration_milliseconds_sum",
                "istio_request_duration_milliseconds_count", "istio_request_bytes_bucket", "istio_response_bytes_bucket",
                "istio_request_messages_total", "istio_response_messages_total",
            })
            {
                Assert.Contains(expected, names);
            }

            Assert.DoesNotContain(names, n => n.StartsWith("istio_", StringComparison.Ordinal)
                && (n.Contains("_total_total", StringComparison.Ordinal) || n.Contains("_ratio", StringComparison.Ordinal)
                    || n.Contains("milliseconds_milliseconds", StringComparison.Ordinal) || n.Contains("bytes_bytes", StringComparison.Ordinal)));
            Assert.True(Volatile.Read(ref sent) > 0);
        }
        finally
        {
            await load.CancelAsync();
            await traffic.ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }
}
