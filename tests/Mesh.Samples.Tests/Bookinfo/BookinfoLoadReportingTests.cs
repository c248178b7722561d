using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>
/// Bookinfo with the control plane's load reporting on (<c>./run.sh --load-reporting true</c>): every service reports
/// the load of its outgoing calls (LRS), and /debug/loadz shows the edges source workload → destination service.
/// </summary>
public sealed class BookinfoLoadReportingTests(ITestOutputHelper output)
{
    private const int Pages = 6;

    [Fact]
    public async Task LoadReporting_PagesLoaded_EveryCallingWorkloadReportsItsEdges()
    {
        await using var sample = await BookinfoSample.StartAsync(["--load-reporting", "true"]);
        for (var i = 0; i < Pages; i++)
        {
            await sample.LoadPageAsync();
        }

        // The control plane asks for reports every 10 s (its default): wait for the product page's edges to carry every page.
        using var http = new HttpClient();
        JsonArray edges = [];
        for (var deadline = DateTime.UtcNow.AddSeconds(45); DateTime.UtcNow < deadline; await Task.Delay(500))
        {
            var loadz = JsonNode.Parse(await http.GetStringAsync(new Uri(sample.DebugAddress, "loadz")))!;
            edges = loadz["edges"]!.AsArray();
            if (Succeeded(edges, "productpage-v1", "details") >= Pages && Succeeded(edges, "productpage-v1", "reviews") >= Pages
                && Succeeded(edges, "reviews-v2", "ratings") + Succeeded(edges, "reviews-v3", "ratings") > 0)
            {
                break;
            }
        }

        output.WriteLine(edges.ToJsonString());
        Assert.True(Succeeded(edges, "productpage-v1", "details") >= Pages, "productpage-v1 → details: " + edges.ToJsonString());
        Assert.True(Succeeded(edges, "productpage-v1", "reviews") >= Pages, "productpage-v1 → reviews: " + edges.ToJsonString());
        Assert.True(Succeeded(edges, "reviews-v2", "ratings") + Succeeded(edges, "reviews-v3", "ratings") > 0, "reviews-v2/v3 → ratings: " + edges.ToJsonString());
        // Every edge is one of Bookinfo's (errors are not asserted: on a loaded machine some calls do hit their deadlines,
        // and the reports say so).
        Assert.All(edges, e =>
        {
            Assert.Equal("default", e!["sourceNamespace"]!.GetValue<string>());
            Assert.Equal(9080, e["destinationPort"]!.GetValue<int>());
            Assert.Contains(e["sourceWorkload"]!.GetValue<string>() + " > " + e["destinationService"]!.GetValue<string>(), (string[])
            [
                "istio-ingressgateway > productpage.default.svc.cluster.local", // the launcher's first pages through the gateway
                "productpage-v1 > details.default.svc.cluster.local",
                "productpage-v1 > reviews.default.svc.cluster.local",
                "reviews-v2 > ratings.default.svc.cluster.local",
                "reviews-v3 > ratings.default.svc.cluster.local",
            ]);
        });
    }

    /// <summary>Successful calls reported from <paramref name="workload"/> to the service <paramref name="service"/> (any subset).</summary>
    private static ulong Succeeded(JsonArray edges, string workload, string service)
    {
        ulong sum = 0;
        foreach (var edge in edges)
        {
            if (edge!["sourceWorkload"]!.GetValue<string>() == workload
                && edge["destinationService"]!.GetValue<string>().Split('.')[0] == service)
            {
                sum += edge["total"]!["succeeded"]!.GetValue<ulong>();
            }
        }

        return sum;
    }
}
