using System.Text.Json.Nodes;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Service.LoadStats.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.LoadReporting;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Testing;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.LoadReporting;

public class LoadReportingServiceTests
{
    private const string ReviewsV1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
    private const string Ratings = "outbound|9080||ratings.default.svc.cluster.local";

    private static Node ProductPage(string id) => new()
    {
        Id = id,
        Metadata = new Struct
        {
            Fields =
            {
                ["NAMESPACE"] = Value.ForString("bookinfo"),
                ["WORKLOAD_NAME"] = Value.ForString("productpage-v1"),
            },
        },
    };

    private static ClusterStats Stats(string cluster, string zone, ulong issued, ulong succeeded, ulong errored, ulong inProgress, double latencySum = 0)
    {
        var locality = new UpstreamLocalityStats
        {
            Locality = new Envoy.Config.Core.V3.Locality { Region = "r1", Zone = zone },
            TotalIssuedRequests = issued,
            TotalSuccessfulRequests = succeeded,
            TotalErrorRequests = errored,
            TotalRequestsInProgress = inProgress,
        };
        if (latencySum > 0)
        {
            locality.LoadMetricStats.Add(new EndpointLoadMetricStats
            {
                MetricName = "latency_ms", NumRequestsFinishedWithMetric = succeeded + errored, TotalMetricValue = latencySum,
            });
        }

        return new ClusterStats
        {
            ClusterName = cluster,
            UpstreamLocalityStats = { locality },
            LoadReportInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(10)),
        };
    }

    /// <summary>Polls /debug/loadz until it has seen <paramref name="reports"/> reports (bounded).</summary>
    private static async Task<JsonNode> WaitForReportsAsync(TestControlPlane cp, long reports)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var loadz = await cp.GetJsonAsync("/debug/loadz");
            if (loadz["reports"]!.GetValue<long>() >= reports || DateTime.UtcNow > deadline)
            {
                return loadz;
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task StreamLoadStats_ClientResetsTheStream_IsLoggedAtDebugWithoutAnError()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews());
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        var client = new LoadReportingService.LoadReportingServiceClient(channel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var call = client.StreamLoadStats(cancellationToken: timeout.Token);
        await call.RequestStream.WriteAsync(new LoadStatsRequest { Node = ProductPage("productpage-reset") });
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));

        call.Dispose(); // cancels the call: the server sees RST_STREAM while it waits for the next report.

        for (var i = 0; i < 200 && !cp.Logs.Entries.Any(e => e.Message.Contains("was reset by the client", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(50);
        }

        var reset = Assert.Single(cp.Logs.Entries, e => e.Message.Contains("was reset by the client", StringComparison.Ordinal));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, reset.Level);
        Assert.DoesNotContain(cp.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Fact]
    public async Task StreamLoadStats_TwoReports_LoadzShowsExactTotalsPerEdgeAndLocality()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews());
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        var client = new LoadReportingService.LoadReportingServiceClient(channel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var call = client.StreamLoadStats(cancellationToken: timeout.Token);

        await call.RequestStream.WriteAsync(new LoadStatsRequest { Node = ProductPage("productpage-1") });
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
        var response = call.ResponseStream.Current;
        Assert.True(response.SendAllClusters);
        Assert.Equal(TimeSpan.FromSeconds(10), response.LoadReportingInterval.ToTimeSpan());

        await call.RequestStream.WriteAsync(new LoadStatsRequest
        {
            ClusterStats = { Stats(ReviewsV1, "z1", issued: 10, succeeded: 7, errored: 2, inProgress: 1, latencySum: 90), Stats(Ratings, "z1", 4, 4, 0, 0) },
        });
        await call.RequestStream.WriteAsync(new LoadStatsRequest
        {
            ClusterStats = { Stats(ReviewsV1, "z2", issued: 5, succeeded: 5, errored: 1, inProgress: 0, latencySum: 60) },
        });
        var loadz = await WaitForReportsAsync(cp, 2);
        await call.RequestStream.CompleteAsync();

        Assert.Equal(2, loadz["reports"]!.GetValue<long>());
        var edges = loadz["edges"]!.AsArray();
        Assert.Equal(2, edges.Count);
        var reviews = Assert.Single(edges, e => e!["destinationService"]!.GetValue<string>() == "reviews.default.svc.cluster.local")!;
        Assert.Equal("bookinfo", reviews["sourceNamespace"]!.GetValue<string>());
        Assert.Equal("productpage-v1", reviews["sourceWorkload"]!.GetValue<string>());
        Assert.Equal("v1", reviews["destinationSubset"]!.GetValue<string>());
        Assert.Equal(9080, reviews["destinationPort"]!.GetValue<int>());
        Assert.Equal(15UL, reviews["total"]!["issued"]!.GetValue<ulong>());
        Assert.Equal(12UL, reviews["total"]!["succeeded"]!.GetValue<ulong>());
        Assert.Equal(3UL, reviews["total"]!["errored"]!.GetValue<ulong>());
        Assert.Equal(0UL, reviews["inProgress"]!.GetValue<ulong>());
        Assert.Equal(7UL, reviews["localities"]!["r1/z1/"]!["succeeded"]!.GetValue<ulong>());
        Assert.Equal(5UL, reviews["localities"]!["r1/z2/"]!["succeeded"]!.GetValue<ulong>());
        Assert.Equal(15UL, reviews["metrics"]!["latency_ms"]!["count"]!.GetValue<ulong>());
        Assert.Equal(150d, reviews["metrics"]!["latency_ms"]!["sum"]!.GetValue<double>());
        Assert.Equal(2, reviews["window"]!["reports"]!.GetValue<int>());
        Assert.Equal(20d, reviews["window"]!["seconds"]!.GetValue<double>());

        var ratings = Assert.Single(edges, e => e!["destinationService"]!.GetValue<string>() == "ratings.default.svc.cluster.local")!;
        Assert.Equal("", ratings["destinationSubset"]!.GetValue<string>());
        Assert.Equal(4UL, ratings["total"]!["succeeded"]!.GetValue<ulong>());

        var metrics = await cp.Http.GetStringAsync("/debug/loadz/metrics");
        Assert.Contains(
            "mesh_lrs_requests_total{source_workload=\"productpage-v1\",source_namespace=\"bookinfo\",destination_service=\"reviews.default.svc.cluster.local\",destination_port=\"9080\",destination_subset=\"v1\",outcome=\"error\"} 3\n",
            metrics,
            StringComparison.Ordinal);
        Assert.Contains(
            "destination_service=\"ratings.default.svc.cluster.local\",destination_port=\"9080\",destination_subset=\"\",outcome=\"success\"} 4\n",
            metrics,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamLoadStats_ReportNamesTooManyClusters_RecordsOnlyTheCapAndLogs()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews());
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        var client = new LoadReportingService.LoadReportingServiceClient(channel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var call = client.StreamLoadStats(cancellationToken: timeout.Token);
        await call.RequestStream.WriteAsync(new LoadStatsRequest { Node = ProductPage("flood-1") });
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token));

        var flood = new LoadStatsRequest();
        for (var i = 0; i < LoadReportingLimits.MaxClustersPerReport + 50; i++)
        {
            flood.ClusterStats.Add(Stats($"outbound|9080||svc{i}.default.svc.cluster.local", "z1", 1, 1, 0, 0));
        }

        await call.RequestStream.WriteAsync(flood);
        var loadz = await WaitForReportsAsync(cp, 1);
        await call.RequestStream.CompleteAsync();

        Assert.Equal(LoadReportingLimits.MaxClustersPerReport, loadz["edges"]!.AsArray().Count);
        Assert.Contains(cp.Logs.MessagesAtLeast(Microsoft.Extensions.Logging.LogLevel.Warning), m => m.Contains("only the first", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StreamLoadStats_FirstRequestWithoutNode_FailsInvalidArgument()
    {
        await using var cp = await TestControlPlane.StartAsync(TestYaml.Reviews());
        using var channel = GrpcChannel.ForAddress(cp.XdsAddress);
        var client = new LoadReportingService.LoadReportingServiceClient(channel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var call = client.StreamLoadStats(cancellationToken: timeout.Token);
        await call.RequestStream.WriteAsync(new LoadStatsRequest());

        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => call.ResponseStream.MoveNext(timeout.Token));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public void Translate_LoadReportingOn_SetsLrsServerSelfOnEveryEdsClusterOnly()
    {
        var yaml = TestYaml.Reviews();
        var read = YamlResourceReader.Read(string.Join("\n---\n", yaml.Values), "input.yaml", "default");
        Assert.Empty(read.Errors);
        var built = MeshModelBuilder.Build(read.Resources, version: 1);
        Assert.Empty(built.Errors);

        var on = ProxylessTranslator.Translate(built.Snapshot!, loadReporting: true).Of(XdsTypeUrls.Cluster).Values.Select(r => (Cluster)r.Message).ToList();
        var off = ProxylessTranslator.Translate(built.Snapshot!).Of(XdsTypeUrls.Cluster).Values.Select(r => (Cluster)r.Message).ToList();

        Assert.NotEmpty(on);
        Assert.All(on, c => Assert.Equal(ConfigSource.ConfigSourceSpecifierOneofCase.Self, c.LrsServer?.ConfigSourceSpecifierCase));
        Assert.All(off, c => Assert.Null(c.LrsServer));
    }
}
