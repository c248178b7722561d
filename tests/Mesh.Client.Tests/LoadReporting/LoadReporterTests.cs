using Envoy.Service.LoadStats.V3;
using Grpc.Net.Client;
using Mesh.Client.LoadReporting;
using Mesh.Client.Xds;
using Mesh.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Node = Envoy.Config.Core.V3.Node;

namespace Mesh.Client.Tests.LoadReporting;

/// <summary>The LRS stream of <see cref="LoadReporter"/> against the real control plane and a scripted LRS server.</summary>
public sealed class LoadReporterTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Cluster = "outbound|9080||greeter.default.svc.cluster.local";

    private static GrpcChannel Channel(Uri address) =>
        // As the xDS client dials: an HttpClient, so a dead server fails each attempt at once and only our backoff retries.
        GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpClient = new HttpClient(new SocketsHttpHandler()), DisposeHttpClient = true });

    private static Node Node(string workload) => new()
    {
        Id = workload + "-1.default",
        Metadata = new Google.Protobuf.WellKnownTypes.Struct
        {
            Fields =
            {
                ["NAMESPACE"] = Google.Protobuf.WellKnownTypes.Value.ForString("default"),
                ["WORKLOAD_NAME"] = Google.Protobuf.WellKnownTypes.Value.ForString(workload),
            },
        },
    };

    private static LoadReporter Reporter(Func<GrpcChannel?> channel, string workload) =>
        new(channel, () => Node(workload), TimeProvider.System, NullLogger<LoadReporter>.Instance)
        {
            BackoffPolicy = new XdsBackoffPolicy(TimeSpan.FromMilliseconds(100), 1.6, 0.2, TimeSpan.FromMilliseconds(500)),
        };

    private static void Calls(LocalityLoad load, int succeeded, int failed)
    {
        for (var i = 0; i < succeeded + failed; i++)
        {
            load.Start();
            load.End(success: i < succeeded, TimeSpan.FromMilliseconds(2));
        }
    }

    private static async Task<ulong[]?> EdgeTotalsAsync(TestControlPlane cp, string workload)
    {
        var loadz = await cp.GetJsonAsync("/debug/loadz");
        var edge = loadz["edges"]!.AsArray().FirstOrDefault(e => e!["sourceWorkload"]!.GetValue<string>() == workload);
        return edge is null ? null :
            [edge["total"]!["issued"]!.GetValue<ulong>(), edge["total"]!["succeeded"]!.GetValue<ulong>(), edge["total"]!["errored"]!.GetValue<ulong>()];
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (await condition())
            {
                return;
            }
        }

        Assert.Fail("Timed out waiting for " + what);
    }

    [Fact]
    public async Task Release_LastCluster_SendsALastReportAndStopsTheStream()
    {
        // The control plane asks for reports every 60 s: the only report that can arrive in time is the last one.
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>(), configure: o =>
        {
            o.LoadReporting = true;
            o.LoadReportingInterval = TimeSpan.FromSeconds(60);
        });
        using var channel = Channel(cp.XdsAddress);
        await using var reporter = Reporter(() => channel, "release-test");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var load = reporter.Acquire(Cluster, "");
        Assert.True(reporter.IsRunning);
        Calls(load.Locality("", "", ""), succeeded: 5, failed: 2);
        await WaitForAsync(async () => (long)(await cp.GetJsonAsync("/debug/loadz"))["reports"]!.GetValue<long>() >= 1, "the stream's first request");
        output.WriteLine($"first request seen after {watch.ElapsedMilliseconds} ms");
        reporter.Release(load);

        await WaitForAsync(() => Task.FromResult(!reporter.IsRunning), "the stream to stop");
        output.WriteLine($"stopped after {watch.ElapsedMilliseconds} ms");
        Assert.Equal(1, reporter.ReportsSent);
        await WaitForAsync(async () => (await EdgeTotalsAsync(cp, "release-test")) is [7, 5, 2], "the last report to arrive with 7 calls, 5 succeeded and 2 failed");
    }

    [Fact]
    public async Task ServerRestart_ReconnectsWithBackoff_AndReportsTheLoadCountedMeanwhile()
    {
        var directory = Path.Combine(Path.GetTempPath(), "mesh-lrs-restart-" + Guid.NewGuid().ToString("N"));
        void Configure(Mesh.ControlPlane.ControlPlaneOptions o)
        {
            o.LoadReporting = true;
            o.LoadReportingInterval = TimeSpan.FromMilliseconds(200);
        }

        var first = await TestControlPlane.StartAsync(new Dictionary<string, string>(), directory: directory, configure: Configure);
        var port = first.XdsAddress.Port;
        using var channel = Channel(first.XdsAddress);
        await using var reporter = Reporter(() => channel, "restart-test");
        var locality = reporter.Acquire(Cluster, "").Locality("", "", "");
        Calls(locality, succeeded: 3, failed: 0);
        await WaitForAsync(async () => (await EdgeTotalsAsync(first, "restart-test"))?[1] == 3, "the first server to see 3 calls");

        await first.StopAsync();
        await first.DisposeAsync();
        Calls(locality, succeeded: 4, failed: 1); // counted while no server is there

        await using var second = await TestControlPlane.StartAsync(new Dictionary<string, string>(), directory: directory, xdsPort: port, configure: Configure);
        await WaitForAsync(async () => (await EdgeTotalsAsync(second, "restart-test"))?[0] == 5, "the second server to see the 5 calls made meanwhile");
        await Task.Delay(600); // three more intervals: nothing more, nothing counted twice
        var totals = await EdgeTotalsAsync(second, "restart-test");
        Assert.Equal(new ulong[] { 5, 4, 1 }, totals);
    }

    [Fact]
    public async Task ServerResponse_NamesClustersAndInterval_OnlyThoseClustersAreReportedAtThatInterval()
    {
        await using var server = await FakeLoadReportingServer.StartAsync();
        server.Response = new LoadStatsResponse
        {
            SendAllClusters = false,
            Clusters = { "wanted" },
            LoadReportingInterval = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)),
        };
        using var channel = Channel(server.Address);
        await using var reporter = Reporter(() => channel, "filter-test");
        var wanted = reporter.Acquire("wanted", "wanted-eds").Locality("r", "z", "");
        var other = reporter.Acquire("other", "").Locality("r", "z", "");
        var started = DateTime.UtcNow;
        for (var round = 0; round < 5; round++)
        {
            Calls(wanted, 1, 0);
            Calls(other, 1, 0);
            await Task.Delay(100);
        }

        await WaitForAsync(() => Task.FromResult(server.Requests.Skip(1).Sum(r => r.ClusterStats.Sum(c => (long)c.UpstreamLocalityStats.Sum(l => (long)l.TotalIssuedRequests))) >= 5), "5 calls of 'wanted' reported");
        var elapsed = DateTime.UtcNow - started;
        var requests = server.Requests;

        // The first request names the node (with the send_all_clusters feature) and the clusters, with no load.
        Assert.Equal("filter-test-1.default", requests[0].Node.Id);
        Assert.Contains(LoadReporter.SendAllClustersFeature, requests[0].Node.ClientFeatures);
        Assert.Equal(["other", "wanted"], requests[0].ClusterStats.Select(c => c.ClusterName).Order(StringComparer.Ordinal));

        // Then only "wanted", with its EDS service name and locality, at about the interval asked for (not every 10 s).
        var reports = requests.Skip(1).ToList();
        Assert.All(reports, r => Assert.All(r.ClusterStats, c => Assert.Equal(("wanted", "wanted-eds"), (c.ClusterName, c.ClusterServiceName))));
        Assert.Equal(5UL, (ulong)reports.Sum(r => (long)r.ClusterStats.Single().UpstreamLocalityStats.Single().TotalSuccessfulRequests));
        Assert.InRange(reports.Count, 2, (int)(elapsed.TotalMilliseconds / 200) + 1);
        Assert.All(reports, r => Assert.InRange(r.ClusterStats.Single().LoadReportInterval.ToTimeSpan(), TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(5)));
    }
}
