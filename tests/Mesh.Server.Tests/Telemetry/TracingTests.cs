using System.Collections.Concurrent;
using System.Diagnostics;
using Mesh.Client.Telemetry;
using Mesh.Server.Tests.EndToEnd;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Server.Tests.Telemetry;

/// <summary>
/// Traces: a client span per attempt and a server span per request, parented across the hop, with Envoy's and Istio's
/// tags; W3C and B3 context and x-request-id on the wire.
/// </summary>
public sealed class TracingTests : IDisposable
{
    private static readonly ActivitySource Test = new("Mesh.Server.Tests.Tracing");
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => true,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Call_MeshClientToMeshServer_ClientAndServerSpansInOneTraceWithIstioTags()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));
        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (_, warmup) = await SecureMesh.CallAsync(client);
        Assert.True(warmup is null, warmup?.Status.ToString());

        ActivityTraceId traceId;
        using (var root = Test.StartActivity("page load")!)
        {
            traceId = root.TraceId;
            await client.GetReviewsAsync(new Reviews.ReviewsRequest { Product = "0" }, deadline: DateTime.UtcNow.AddSeconds(5));
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && _stopped.Count(a => a.TraceId == traceId) < 3)
        {
            await Task.Delay(20);
        }

        var spans = _stopped.Where(a => a.TraceId == traceId).ToList();
        var clientSpan = Assert.Single(spans, a => a.Source.Name == "Mesh.Client");
        var serverSpan = Assert.Single(spans, a => a.Source.Name == "Mesh.Server");
        var rootSpan = Assert.Single(spans, a => a.Source.Name == Test.Name);
        Assert.Equal(ActivityKind.Client, clientSpan.Kind);
        Assert.Equal(ActivityKind.Server, serverSpan.Kind);
        // Parented across the hop: root → (Grpc.Net.Client's call activity) → Mesh client attempt → (HttpClient's
        // request activity) → Mesh server span. The in-between activities are the libraries' own, recorded here as
        // an application listening to every source (or using their OpenTelemetry instrumentations) records them.
        var chain = string.Join("; ", spans.Select(a => a.Source.Name + ":" + a.SpanId + "<" + a.ParentSpanId));
        Assert.True(Descends(clientSpan, rootSpan.SpanId, spans), chain);
        Assert.True(Descends(serverSpan, clientSpan.SpanId, spans), chain);
        Assert.DoesNotContain(spans, a => a.Source.Name is "Mesh.Client" or "Mesh.Server" && a != clientSpan && a != serverSpan);

        Assert.Equal("reviews.default.svc.cluster.local/*", clientSpan.DisplayName);
        Assert.Equal("200", clientSpan.GetTagItem("http.status_code")?.ToString());
        Assert.Equal("0", clientSpan.GetTagItem("grpc.status_code")?.ToString());
        Assert.Equal("-", clientSpan.GetTagItem("response_flags"));
        Assert.Equal("productpage", clientSpan.GetTagItem("istio.canonical_service"));
        Assert.Equal("default", clientSpan.GetTagItem("istio.namespace"));
        Assert.Equal("unknown", clientSpan.GetTagItem("istio.mesh_id"));
        Assert.StartsWith("productpage-", (string)clientSpan.GetTagItem("node_id")!, StringComparison.Ordinal);
        Assert.Equal("/reviews.Reviews/GetReviews", clientSpan.GetTagItem("grpc.path"));

        Assert.Equal("reviews", serverSpan.GetTagItem("istio.canonical_service"));
        Assert.Equal("0", serverSpan.GetTagItem("grpc.status_code")?.ToString());
        Assert.Equal("200", serverSpan.GetTagItem("http.status_code")?.ToString());
        Assert.Equal("productpage", serverSpan.GetTagItem("downstream_cluster"));
        Assert.Equal(clientSpan.GetTagItem("guid:x-request-id"), serverSpan.GetTagItem("guid:x-request-id"));
    }

    private static bool Descends(Activity span, ActivitySpanId ancestor, List<Activity> spans)
    {
        var parent = span.ParentSpanId;
        for (var i = 0; i < 10; i++)
        {
            if (parent == ancestor)
            {
                return true;
            }

            var next = spans.FirstOrDefault(a => a.SpanId == parent);
            if (next is null)
            {
                return false;
            }

            parent = next.ParentSpanId;
        }

        return false;
    }

    [Fact]
    public async Task HttpClient_MeshRouted_SendsW3cB3AndTheServedRequestsId()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", protocols: HttpProtocols.Http1AndHttp2);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port));
        var http = mesh.Client("productpage").GetRequiredService<IHttpClientFactory>().CreateClient("reviews");

        string? body = null;
        TraceHeaders.CurrentRequest = "5f0c2a5e-request-of-the-page";
        using (var root = Test.StartActivity("page load")!)
        {
            for (var i = 0; i < 50 && body is null; i++)
            {
                using var response = await http.GetAsync(new Uri("http://reviews:9080/trace-headers"));
                if (response.IsSuccessStatusCode)
                {
                    body = await response.Content.ReadAsStringAsync();
                }
                else
                {
                    await Task.Delay(100);
                }
            }

            Assert.NotNull(body);
            var headers = body!.Split('\n').ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            var clientSpan = _stopped.Last(a => a.Source.Name == "Mesh.Client" && a.TraceId == root.TraceId);
            var trace = root.TraceId.ToHexString();
            var span = clientSpan.SpanId.ToHexString();
            Assert.Equal($"00-{trace}-{span}-01", headers["traceparent"]);
            Assert.Equal($"{trace}-{span}-1", headers["b3"]);
            Assert.Equal(trace, headers["x-b3-traceid"]);
            Assert.Equal(span, headers["x-b3-spanid"]);
            Assert.Equal("1", headers["x-b3-sampled"]);
            Assert.Equal("5f0c2a5e-request-of-the-page", headers["x-request-id"]);
        }
    }

    [Fact]
    public async Task ServerSpan_CallerWithOnlyB3Headers_ParentedToTheB3Context()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", protocols: HttpProtocols.Http1AndHttp2);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port));
        const string Trace = "463ac35c9f6413ad48485a3953bb6124";
        const string Span = "a2fb4a1d1a96d312";
        using var http = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }); // a Zipkin caller: B3 only
        var ok = false;
        for (var i = 0; i < 50 && !ok; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/whoami");
            request.Headers.TryAddWithoutValidation("x-b3-traceid", Trace);
            request.Headers.TryAddWithoutValidation("x-b3-spanid", Span);
            request.Headers.TryAddWithoutValidation("x-b3-sampled", "1");
            using var response = await http.SendAsync(request);
            ok = response.IsSuccessStatusCode;
            if (!ok)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(ok);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline && !_stopped.Any(a => a.Source.Name == "Mesh.Server" && a.TraceId.ToHexString() == Trace))
        {
            await Task.Delay(20);
        }

        var server = _stopped.Last(a => a.Source.Name == "Mesh.Server" && a.TraceId.ToHexString() == Trace);
        Assert.Equal(Span, server.ParentSpanId.ToHexString());
        Assert.Equal("200", server.GetTagItem("http.status_code")?.ToString());
    }
}
