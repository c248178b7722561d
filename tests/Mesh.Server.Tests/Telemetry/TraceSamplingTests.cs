using System.Collections.Concurrent;
using System.Diagnostics;
using Mesh.Server.Tests.EndToEnd;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Mesh.Server.Tests.Telemetry;

/// <summary>
/// The Telemetry resource's trace sampling, end to end and live: the control plane carries
/// <c>tracing[].randomSamplingPercentage</c> in the listeners' connection manager (<c>tracing.random_sampling</c>), and
/// Mesh.Client and Mesh.Server apply it to the next calls, with no restart. Spans are collected as an OpenTelemetry
/// tracer provider exports them (the SDK's default parent-based sampler), filtered by this test's cluster id.
/// </summary>
public sealed class TraceSamplingTests
{
    private const int Calls = 10;

    [Fact]
    public async Task TelemetryRandomSampling_ZeroThenHundredThenZero_SpanExportStopsResumesAndStopsLive()
    {
        var cluster = "sampling-" + Guid.NewGuid().ToString("N")[..10];
        var exported = new ConcurrentQueue<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddMeshInstrumentation().AddProcessor(new Collector(exported)).Build();
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", clusterId: cluster);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + Telemetry(0));
        var client = mesh.Client("productpage", clusterId: cluster).GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (_, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());

        // 0 %: calls go through, nothing is exported, client or server. The Telemetry arrives with the listeners, which
        // client and server each take on their own stream: wait until a call exports nothing, then count ten more.
        await UntilAsync(async () =>
        {
            var count = Spans(exported, cluster);
            await CallAsync(client, 1);
            await Task.Delay(100);
            return Spans(exported, cluster) == count;
        }, "no spans at 0 %");
        var unsampled = Spans(exported, cluster);
        await CallAsync(client, Calls);
        await Task.Delay(300);
        Assert.Equal(unsampled, Spans(exported, cluster));

        // 100 %: once the control plane's update arrives, every call is one client and one server span, parented.
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + Telemetry(100));
        await UntilAsync(async () => { await CallAsync(client, 1); return Spans(exported, cluster) >= 2; }, "spans after sampling went to 100 %");
        await Task.Delay(300);
        var before = Spans(exported, cluster);
        await CallAsync(client, Calls);
        await UntilAsync(() => Task.FromResult(Spans(exported, cluster) >= before + 2 * Calls), $"{2 * Calls} spans for {Calls} calls");
        await Task.Delay(300);
        var spans = exported.Where(a => Of(a, cluster)).Skip(before).ToList();
        Assert.Equal(Calls, spans.Count(a => a.Source.Name == "Mesh.Client" && a.Kind == ActivityKind.Client));
        Assert.Equal(Calls, spans.Count(a => a.Source.Name == "Mesh.Server" && a.Kind == ActivityKind.Server));
        Assert.All(spans.Where(a => a.Kind == ActivityKind.Server), server =>
            Assert.Contains(spans, c => c.Kind == ActivityKind.Client && c.SpanId == server.ParentSpanId && c.TraceId == server.TraceId));

        // Back to 0 %: export stops again, live.
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + Telemetry(0));
        await UntilAsync(async () =>
        {
            var count = Spans(exported, cluster);
            await CallAsync(client, 1);
            await Task.Delay(100);
            return Spans(exported, cluster) == count;
        }, "no spans after sampling went back to 0 %");
        before = Spans(exported, cluster);
        await CallAsync(client, Calls);
        await Task.Delay(500);
        Assert.Equal(before, Spans(exported, cluster));
    }

    private static string Telemetry(double percent) => $$"""
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          tracing:
          - randomSamplingPercentage: {{percent.ToString(System.Globalization.CultureInfo.InvariantCulture)}}
        """;

    private static bool Of(Activity activity, string cluster) => activity.GetTagItem("istio.cluster_id") as string == cluster;

    private static int Spans(ConcurrentQueue<Activity> exported, string cluster) => exported.Count(a => Of(a, cluster));

    private static async Task CallAsync(Reviews.Reviews.ReviewsClient client, int calls)
    {
        for (var i = 0; i < calls; i++)
        {
            await client.GetReviewsAsync(new Reviews.ReviewsRequest { Product = "0" }, deadline: DateTime.UtcNow.AddSeconds(10));
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"no {what} within 20 s");
            await Task.Delay(100);
        }
    }

    /// <summary>Keeps every span an export processor would export (the recorded ones).</summary>
    private sealed class Collector(ConcurrentQueue<Activity> into) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data)
        {
            if (data.Recorded)
            {
                into.Enqueue(data);
            }
        }
    }
}
