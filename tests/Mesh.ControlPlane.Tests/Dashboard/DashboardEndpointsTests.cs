using System.Net;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Dashboard;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Tests.Dashboard;

public class DashboardEndpointsTests
{
    [Fact]
    public async Task Dashboard_HttpPort_ServesThePageItsAssetsAndSnapshots()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews());

        using var page = await cp.Http.GetAsync("/dashboard");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"dashboard/dashboard.js\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal); // nothing from elsewhere: no CDN.
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);

        foreach (var (asset, type) in new[] { ("dashboard.js", "text/javascript"), ("dashboard.css", "text/css") })
        {
            using var response = await cp.Http.GetAsync("/dashboard/" + asset);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await cp.Http.GetAsync("/dashboard/missing.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await cp.Http.GetAsync("/dashboard/index.html")).StatusCode);

        var snapshot = await cp.GetJsonAsync("/dashboard/snapshot");
        var services = snapshot["namespaces"]!.AsArray().SelectMany(n => n!["services"]!.AsArray()).Select(s => s!["host"]!.GetValue<string>());
        Assert.Contains("reviews.default.svc.cluster.local", services);

        // Not on the xDS port: the dashboard shows policies and peers, as the debug pages do.
        using var xds = new HttpClient { BaseAddress = cp.XdsAddress, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        Assert.Equal(HttpStatusCode.NotFound, (await xds.GetAsync("/dashboard")).StatusCode);
    }

    [Fact]
    public async Task Events_Followed_SendsASnapshotAtOnceThenAboutEverySecondAndTheNextConfiguration()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var response = await cp.Http.GetAsync("/dashboard/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));

        var first = await NextEventAsync(reader, timeout.Token);
        var version = first["version"]!.GetValue<long>();
        await cp.WriteFileAsync("reviews-vs.yaml", TestYaml.ReviewsSplit(60, 40));

        JsonNode next;
        var events = 1;
        do
        {
            next = await NextEventAsync(reader, timeout.Token);
            events++;
        }
        while (next["version"]!.GetValue<long>() == version);

        var reviews = next["namespaces"]!.AsArray().SelectMany(n => n!["services"]!.AsArray()).Single(s => s!["name"]!.GetValue<string>() == "reviews")!;
        Assert.Equal([60d, 40d], reviews["virtualService"]!["rules"]![0]!["destinations"]!.AsArray().Select(d => d!["percent"]!.GetValue<double>()));
        Assert.InRange(events, 2, 15);
    }

    [Fact]
    public async Task Subscribe_MoreThanTheLimit_RefusedUntilOneLeaves()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews());
        var hub = cp.Services.GetRequiredService<DashboardHub>();
        var subscriptions = new List<DashboardHub.Subscription>();
        try
        {
            for (var i = 0; i < DashboardLimits.MaxEventClients; i++)
            {
                subscriptions.Add(hub.Subscribe() ?? throw new Xunit.Sdk.XunitException($"subscription {i} refused"));
            }

            Assert.Null(hub.Subscribe());
            using (var response = await cp.Http.GetAsync("/dashboard/events"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            }

            subscriptions[0].Dispose();
            subscriptions.RemoveAt(0);
            using var again = hub.Subscribe();
            Assert.NotNull(again);
            Assert.True(again.Reader.TryRead(out var json));
            Assert.StartsWith("{\"version\":", json, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var subscription in subscriptions)
            {
                subscription.Dispose();
            }
        }

        Assert.Equal(0, hub.Subscribers);
    }

    private static async Task<JsonNode> NextEventAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var line = await reader.ReadLineAsync(cancellationToken) ?? throw new Xunit.Sdk.XunitException("the event stream ended");
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return JsonNode.Parse(line["data: ".Length..])!;
            }
        }
    }
}
