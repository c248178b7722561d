using System.Net.Http.Headers;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mesh.Client.Telemetry;
using Mesh.Server.Tests.EndToEnd;
using Mesh.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Server.Tests.Telemetry;

/// <summary>
/// The "Labels" acceptance of Istio's standard metrics: every label, as istio-proxy sets it, for a client/server pair
/// with mTLS, one without, an Envoy sidecar as the caller (metadata-exchange headers built as istio-proxy builds
/// them), a call that never reached a server, and a retried call. Each test runs its workloads in a cluster id of its
/// own (node metadata <c>CLUSTER_ID</c>), which tells its series apart from other tests' in the shared meters.
/// </summary>
public sealed class IstioLabelsTests
{
    private const string ProductpagePrincipal = "spiffe://cluster.local/ns/default/sa/productpage";
    private const string ReviewsPrincipal = "spiffe://cluster.local/ns/default/sa/reviews";

    [Fact]
    public async Task IstioRequestsTotal_MutualTlsPair_EveryLabelAsIstioProxySetsIt()
    {
        var cluster = NewCluster();
        using var metrics = new MetricCollector("Mesh.Client", "Mesh.Server");
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", clusterId: cluster);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));
        var client = mesh.Client("productpage", clusterId: cluster).GetRequiredService<Reviews.Reviews.ReviewsClient>();

        var (_, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());

        var source = await SingleAsync(metrics, cluster, IstioLabels.Source, m => m.Tag("response_code") == "200");
        AssertLabels(source, ProductpageToReviews(cluster));

        var destination = await SingleAsync(metrics, cluster, IstioLabels.Destination, m => m.Tag("response_code") == "200");
        AssertLabels(destination, ProductpageToReviews(cluster, new()
        {
            ["reporter"] = "destination",
            ["source_principal"] = ProductpagePrincipal,
            ["destination_principal"] = ReviewsPrincipal,
            ["connection_security_policy"] = "mutual_tls",
        }));

        // The other instruments carry the same labels; a unary call is one message each way, with bytes.
        foreach (var reporter in new[] { IstioLabels.Source, IstioLabels.Destination })
        {
            bool Ok(CollectedMeasurement m) => m.Tag("source_cluster") == cluster && m.Tag("reporter") == reporter && m.Tag("response_code") == "200";
            Assert.Single(metrics.Of("istio_request_duration_milliseconds", Ok));
            Assert.Equal(1, Assert.Single(metrics.Of("istio_request_messages_total", Ok)).Value);
            Assert.Equal(1, Assert.Single(metrics.Of("istio_response_messages_total", Ok)).Value);
            Assert.InRange(Assert.Single(metrics.Of("istio_request_bytes", Ok)).Value, 5, 1000);
            Assert.InRange(Assert.Single(metrics.Of("istio_response_bytes", Ok)).Value, 5, 1000);
        }
    }

    [Fact]
    public async Task IstioRequestsTotal_PlaintextPair_SecurityPolicyNoneAndNoPrincipals()
    {
        var cluster = NewCluster();
        using var metrics = new MetricCollector("Mesh.Client", "Mesh.Server");
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", clusterId: cluster);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("DISABLE"));
        var client = mesh.Client("productpage", clusterId: cluster).GetRequiredService<Reviews.Reviews.ReviewsClient>();

        var (reply, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal(string.Empty, reply!.Peer);

        var destination = await SingleAsync(metrics, cluster, IstioLabels.Destination, m => m.Tag("response_code") == "200");
        Assert.Equal("none", destination.Tag("connection_security_policy"));
        Assert.Equal("unknown", destination.Tag("source_principal"));
        Assert.Equal("unknown", destination.Tag("destination_principal"));
        Assert.Equal("productpage", destination.Tag("source_workload"));
        Assert.Equal("reviews", destination.Tag("destination_workload"));

        var source = await SingleAsync(metrics, cluster, IstioLabels.Source, m => m.Tag("response_code") == "200");
        Assert.Equal("unknown", source.Tag("connection_security_policy"));
        Assert.Equal("reviews", source.Tag("destination_workload"));
    }

    [Fact]
    public async Task IstioRequestsTotal_EnvoySidecarCaller_SourceLabelsFromItsPeerMetadataAndHeadersStripped()
    {
        var cluster = NewCluster();
        using var metrics = new MetricCollector("Mesh.Server");
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", protocols: HttpProtocols.Http1AndHttp2, clusterId: cluster);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("PERMISSIVE"));

        // The headers as istio-proxy sends them: its node metadata (a Struct with Istio's keys), base64; its node id.
        var labels = new Struct();
        labels.Fields["app"] = Value.ForString("ratings");
        labels.Fields["version"] = Value.ForString("v1");
        labels.Fields["service.istio.io/canonical-name"] = Value.ForString("ratings");
        labels.Fields["service.istio.io/canonical-revision"] = Value.ForString("v1");
        labels.Fields["pod-template-hash"] = Value.ForString("5d6c8f5b");
        var node = new Struct();
        node.Fields["NAMESPACE"] = Value.ForString("bookinfo");
        node.Fields["WORKLOAD_NAME"] = Value.ForString("ratings-v1");
        node.Fields["CLUSTER_ID"] = Value.ForString(cluster);
        node.Fields["MESH_ID"] = Value.ForString("cluster.local");
        node.Fields["NAME"] = Value.ForString("ratings-v1-5d6c8f5b-x7k2p");
        node.Fields["ISTIO_VERSION"] = Value.ForString("1.24.0");
        node.Fields["INSTANCE_IPS"] = Value.ForString("10.244.0.12");
        node.Fields["OWNER"] = Value.ForString("kubernetes://apis/apps/v1/namespaces/bookinfo/deployments/ratings-v1");
        node.Fields["APP_CONTAINERS"] = Value.ForString("ratings");
        node.Fields["LABELS"] = Value.ForStruct(labels);
        var metadata = Convert.ToBase64String(Google.Protobuf.MessageExtensions.ToByteArray(node));

        using var http = new HttpClient();
        string? body = null;
        HttpResponseHeaders? answer = null;
        for (var i = 0; i < 50 && body is null; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/peer-headers");
            request.Headers.TryAddWithoutValidation("x-envoy-peer-metadata", metadata);
            request.Headers.TryAddWithoutValidation("x-envoy-peer-metadata-id", "sidecar~10.244.0.12~ratings-v1-5d6c8f5b-x7k2p.bookinfo~bookinfo.svc.cluster.local");
            using var response = await http.SendAsync(request);
            if (response.IsSuccessStatusCode)
            {
                body = await response.Content.ReadAsStringAsync();
                answer = response.Headers;
            }
            else
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal("|", body); // the application never saw them
        Assert.True(answer!.TryGetValues("x-envoy-peer-metadata", out var answered));
        Assert.True(PeerMetadataCodec.TryDecode(answered.Single(), out var server));
        Assert.Equal("reviews", server.Fields["WORKLOAD_NAME"].StringValue);
        Assert.Equal("default", server.Fields["NAMESPACE"].StringValue);
        Assert.Equal("reviews", server.Fields["LABELS"].StructValue.Fields["app"].StringValue);
        Assert.StartsWith("reviews-", answer.GetValues("x-envoy-peer-metadata-id").Single(), StringComparison.Ordinal);

        var destination = await SingleAsync(metrics, cluster, IstioLabels.Destination, m => m.Tag("response_code") == "200");
        AssertLabels(destination, ProductpageToReviews(cluster, new()
        {
            ["reporter"] = "destination",
            ["source_workload"] = "ratings-v1",
            ["source_workload_namespace"] = "bookinfo",
            ["source_app"] = "ratings",
            ["source_version"] = "v1",
            ["source_canonical_service"] = "ratings",
            ["source_canonical_revision"] = "v1",
            ["request_protocol"] = "http",
            ["connection_security_policy"] = "none",
            ["grpc_response_status"] = "",
        }));
    }

    [Fact]
    public async Task IstioRequestsTotal_CallAbortedByFault_NeverReachedServerResponseCodeZeroFlagFI()
    {
        var cluster = NewCluster();
        using var metrics = new MetricCollector("Mesh.Client", "Mesh.Server");
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", clusterId: cluster);
        const string Abort = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: default}
            spec:
              hosts: [reviews]
              http:
              - fault: {abort: {percentage: {value: 100}, grpcStatus: UNAVAILABLE}}
                route:
                - destination: {host: reviews}
            """;
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + Abort);
        var client = mesh.Client("productpage", clusterId: cluster).GetRequiredService<Reviews.Reviews.ReviewsClient>();

        await SecureMesh.WaitForStatusAsync(
            async () => await client.GetReviewsAsync(new Reviews.ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(5)),
            StatusCode.Unavailable);

        var source = await SingleAsync(metrics, cluster, IstioLabels.Source, m => m.Tag("response_flags") == "FI");
        Assert.Equal("0", source.Tag("response_code"));
        Assert.Equal("14", source.Tag("grpc_response_status"));
        Assert.Equal("unknown", source.Tag("destination_workload"));
        Assert.Equal("reviews", source.Tag("destination_service_name"));
        Assert.Equal("default", source.Tag("destination_service_namespace"));
        Assert.Equal("productpage", source.Tag("source_workload"));
        Assert.Empty(metrics.Of("istio_requests_total", m => m.Tag("reporter") == IstioLabels.Destination && m.Tag("source_cluster") == cluster && m.Tag("grpc_response_status") == "14"));
    }

    [Fact]
    public async Task IstioRequestsTotal_HttpCallToAClosedPort_NeverReachedServerFlagUFAndNoDestinationWorkload()
    {
        var cluster = NewCluster();
        using var metrics = new MetricCollector("Mesh.Client");
        await using var mesh = await SecureMesh.StartAsync();
        int closed;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            closed = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port; // nobody listens there once this is disposed
        }

        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(closed));
        var http = mesh.Client("productpage", clusterId: cluster).GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        try
        {
            using var response = await http.GetAsync(new Uri("http://reviews:9080/whoami"));
            Assert.False(response.IsSuccessStatusCode);
        }
        catch (HttpRequestException)
        {
            // The connection was refused: the application sees the failure as HttpClient reports it.
        }

        var source = await SingleAsync(metrics, cluster, IstioLabels.Source, m => m.Tag("response_flags")?.Contains("UF", StringComparison.Ordinal) == true);
        Assert.True(source.Tag("response_code") is "0" or "503", source.Tag("response_code")); // no server answered (Envoy answers UF locally with 503)
        Assert.Equal("unknown", source.Tag("destination_workload"));
        Assert.Equal("reviews", source.Tag("destination_service_name"));
        Assert.Equal("http", source.Tag("request_protocol"));
        Assert.Equal("productpage", source.Tag("source_workload"));
    }

    [Fact]
    public async Task IstioRequestsTotal_RetriedHttpCall_ClientCountsTheCallOnceServerCountsEachAttempt()
    {
        var cluster = NewCluster();
        using var metrics = new MetricCollector("Mesh.Client", "Mesh.Server");
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", protocols: HttpProtocols.Http1AndHttp2, clusterId: cluster);
        const string Retry = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: default}
            spec:
              hosts: [reviews]
              http:
              - retries: {attempts: 2, retryOn: 5xx, perTryTimeout: 5s}
                route:
                - destination: {host: reviews}
            """;
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + Retry);
        var http = mesh.Client("productpage", clusterId: cluster).GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        var ready = false;
        for (var i = 0; i < 50 && !ready; i++)
        {
            using var response = await http.GetAsync(new Uri("http://reviews:9080/whoami"));
            ready = response.IsSuccessStatusCode;
            if (!ready)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(ready);
        var (sourceBefore, destinationBefore) = await SettledCountsAsync(metrics, cluster);

        for (var i = 0; i < 4; i++)
        {
            using var response = await http.GetAsync(new Uri("http://reviews:9080/flaky"));
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode); // the retry succeeded
        }

        Assert.True(await metrics.WaitForAsync(m => Count(m, cluster, IstioLabels.Destination, null) >= destinationBefore + 8));
        var (sourceAfter, destinationAfter) = await SettledCountsAsync(metrics, cluster);
        Assert.Equal(4, sourceAfter - sourceBefore); // one per call, as the client sidecar counts downstream requests
        Assert.Equal(8, destinationAfter - destinationBefore); // one per attempt, as each attempt reaches the server
        Assert.Equal(4, metrics.Of("istio_requests_total", m => m.Tag("reporter") == IstioLabels.Destination && m.Tag("source_cluster") == cluster && m.Tag("response_code") == "503").Count);
        var source = metrics.Of("istio_requests_total", m => m.Tag("reporter") == IstioLabels.Source && m.Tag("source_cluster") == cluster).TakeLast(4).ToList();
        Assert.All(source, m => Assert.Equal("200", m.Tag("response_code")));
        Assert.All(source, m => Assert.Equal("-", m.Tag("response_flags")));
        Assert.All(source, m => Assert.Equal("http", m.Tag("request_protocol")));
        Assert.All(source, m => Assert.Equal("reviews", m.Tag("destination_workload")));
    }

    private static string NewCluster() => "test-" + Guid.NewGuid().ToString("N")[..12];

    private static int Count(MetricCollector metrics, string cluster, string reporter, string? code) =>
        metrics.Of("istio_requests_total", m => m.Tag("reporter") == reporter && m.Tag("source_cluster") == cluster && (code is null || m.Tag("response_code") == code)).Count;

    private static async Task<(int Source, int Destination)> SettledCountsAsync(MetricCollector metrics, string cluster)
    {
        var last = (-1, -1);
        for (var i = 0; i < 50; i++)
        {
            var now = (Count(metrics, cluster, IstioLabels.Source, null), Count(metrics, cluster, IstioLabels.Destination, null));
            if (now == last)
            {
                return now;
            }

            last = now;
            await Task.Delay(100);
        }

        return last;
    }

    private static async Task<CollectedMeasurement> SingleAsync(MetricCollector metrics, string cluster, string reporter, Func<CollectedMeasurement, bool> filter)
    {
        bool Match(CollectedMeasurement m) => m.Tag("reporter") == reporter
            && (m.Tag("source_cluster") == cluster || m.Tag("destination_cluster") == cluster) && filter(m);
        Assert.True(await metrics.WaitForAsync(m => m.Of("istio_requests_total", Match).Count > 0), $"no {reporter} measurement in cluster {cluster}");
        return metrics.Of("istio_requests_total", Match)[^1];
    }

    /// <summary>
    /// Every label of a gRPC call from productpage to reviews in <paramref name="cluster"/> as the source reports it
    /// (istio-proxy's values: no principals on the client side, "latest" revisions without a version label), with
    /// <paramref name="changes"/> applied.
    /// </summary>
    private static Dictionary<string, string> ProductpageToReviews(string cluster, Dictionary<string, string>? changes = null)
    {
        var labels = new Dictionary<string, string>
        {
            ["reporter"] = "source",
            ["source_workload"] = "productpage",
            ["source_workload_namespace"] = "default",
            ["source_principal"] = "unknown",
            ["source_app"] = "productpage",
            ["source_version"] = "unknown",
            ["source_canonical_service"] = "productpage",
            ["source_canonical_revision"] = "latest",
            ["source_cluster"] = cluster,
            ["destination_workload"] = "reviews",
            ["destination_workload_namespace"] = "default",
            ["destination_principal"] = "unknown",
            ["destination_app"] = "reviews",
            ["destination_version"] = "unknown",
            ["destination_service"] = "reviews.default.svc.cluster.local",
            ["destination_service_name"] = "reviews",
            ["destination_service_namespace"] = "default",
            ["destination_canonical_service"] = "reviews",
            ["destination_canonical_revision"] = "latest",
            ["destination_cluster"] = cluster,
            ["request_protocol"] = "grpc",
            ["response_flags"] = "-",
            ["connection_security_policy"] = "unknown",
            ["response_code"] = "200",
            ["grpc_response_status"] = "0",
        };
        foreach (var (label, value) in changes ?? [])
        {
            labels[label] = value;
        }

        return labels;
    }

    private static void AssertLabels(CollectedMeasurement measurement, Dictionary<string, string> expected)
    {
        Assert.Equal(IstioLabels.All.Order(StringComparer.Ordinal), measurement.Tags.Keys.Order(StringComparer.Ordinal));
        foreach (var (label, value) in expected)
        {
            Assert.True(value == measurement.Tag(label), $"{label}: expected '{value}', was '{measurement.Tag(label)}'");
        }

        Assert.Equal(1, measurement.Value);
    }
}
