using System.Diagnostics;
using Mesh.Samples.Tests.Bookinfo;
using Mesh.Samples.Tests.Tracing.Otlp;
using static Mesh.Samples.Tests.Bookinfo.ProductPageHtml;

namespace Mesh.Samples.Tests.Tracing;

/// <summary>
/// Bookinfo's traces: every service exports its spans over OTLP (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, as a user points
/// it at a collector or Jaeger) to a collector the test runs in memory; one page load is one trace, with a client and a
/// server span per hop, parented productpage → reviews → ratings, carrying Envoy's and Istio's tags.
/// </summary>
public sealed class BookinfoTracingTests
{
    [Fact]
    public async Task PageLoad_ServedByReviewsWithStars_OneTraceClientAndServerSpanPerHopWithIstioTags()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using var sample = await BookinfoSample.StartAsync(["--no-traffic"], environment: new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint.GetLeftPart(UriPartial.Authority),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        });

        // A page served by reviews v2 or v3 (round robin): those call ratings, so the trace has three hops.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        string? requestId = null;
        string? servedBy = null;
        for (var i = 0; i < 10 && servedBy is not ("reviews-v2" or "reviews-v3"); i++)
        {
            requestId = Guid.NewGuid().ToString();
            using var request = new HttpRequestMessage(HttpMethod.Get, sample.ProductPage);
            request.Headers.Add("x-request-id", requestId);
            using var response = await http.SendAsync(request);
            var html = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, html);
            servedBy = ServedBy(html);
            Assert.DoesNotContain(RatingsUnavailable, html, StringComparison.Ordinal);
        }

        Assert.True(servedBy is "reviews-v2" or "reviews-v3", $"no page served by reviews v2 or v3 in 10 loads (last: {servedBy})");

        // productpage: server + 2 clients; details: server; reviews: server + client; ratings: server.
        var stopwatch = Stopwatch.StartNew();
        List<CollectedSpan> spans = [];
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(20))
        {
            spans = [.. collector.Spans.Where(s => s.Tag("guid:x-request-id") == requestId)];
            if (spans.Count >= 7)
            {
                break;
            }

            await Task.Delay(200);
        }

        var all = string.Join("\n", spans.Select(s => $"{s.Service} {s.Kind} {s.Name} {s.SpanId}<{s.ParentSpanId}"));
        Assert.True(spans.Count == 7, $"expected 7 spans for the page load, got {spans.Count}:\n{all}");
        Assert.Single(spans.Select(s => s.TraceId).Distinct()); // one trace
        var reviews = servedBy!;

        var page = Single(spans, "productpage.default", Span.Types.SpanKind.Server, all);
        Assert.Equal("", page.ParentSpanId.Trim('0')); // the root: the browser sent no context
        var toDetails = Single(spans, "productpage.default", Span.Types.SpanKind.Client, all, "details");
        var toReviews = Single(spans, "productpage.default", Span.Types.SpanKind.Client, all, "reviews");
        var details = Single(spans, "details.default", Span.Types.SpanKind.Server, all);
        var reviewsServer = Single(spans, "reviews.default", Span.Types.SpanKind.Server, all);
        var toRatings = Single(spans, "reviews.default", Span.Types.SpanKind.Client, all, "ratings");
        var ratings = Single(spans, "ratings.default", Span.Types.SpanKind.Server, all);

        Assert.Equal(page.SpanId, toDetails.ParentSpanId);
        Assert.Equal(page.SpanId, toReviews.ParentSpanId);
        Assert.Equal(toDetails.SpanId, details.ParentSpanId);
        Assert.Equal(toReviews.SpanId, reviewsServer.ParentSpanId);
        Assert.Equal(reviewsServer.SpanId, toRatings.ParentSpanId);
        Assert.Equal(toRatings.SpanId, ratings.ParentSpanId);

        // Envoy's and Istio's tags.
        foreach (var span in spans)
        {
            Assert.Equal("proxy", span.Tag("component"));
            Assert.Equal("default", span.Tag("istio.namespace"));
            Assert.Equal(span.Service.Split('.')[0], span.Tag("istio.canonical_service"));
            Assert.Equal("Kubernetes", span.Tag("istio.cluster_id"));
            Assert.NotNull(span.Tag("istio.mesh_id"));
            Assert.NotNull(span.Tag("istio.canonical_revision"));
            Assert.Equal("200", span.Tag("http.status_code"));
            Assert.Equal("-", span.Tag("response_flags"));
            Assert.StartsWith(span.Service.Split('.')[0] + "-", span.Tag("node_id"), StringComparison.Ordinal);
        }

        Assert.Equal("outbound|9080||reviews.default.svc.cluster.local", toReviews.Tag("upstream_cluster"));
        Assert.Equal("outbound|9080||ratings.default.svc.cluster.local", toRatings.Tag("upstream_cluster"));
        Assert.Equal("/bookinfo.reviews.Reviews/GetReviews", toReviews.Tag("grpc.path"));
        Assert.Equal("0", toRatings.Tag("grpc.status_code"));
        Assert.Equal("0", ratings.Tag("grpc.status_code"));
        Assert.Equal("productpage-v1", reviewsServer.Tag("downstream_cluster"));
        Assert.Equal(reviews, "reviews-" + reviewsServer.Tag("node_id")!.Split('.')[0].Split('-')[1]);
    }

    private static CollectedSpan Single(List<CollectedSpan> spans, string service, Span.Types.SpanKind kind, string all, string? to = null)
    {
        var matching = spans.Where(s => s.Service == service && s.Kind == kind && (to is null || s.Name.StartsWith(to + ".", StringComparison.Ordinal))).ToList();
        Assert.True(matching.Count == 1, $"expected one {kind} span of {service}{(to is null ? "" : " to " + to)}:\n{all}");
        return matching[0];
    }
}
