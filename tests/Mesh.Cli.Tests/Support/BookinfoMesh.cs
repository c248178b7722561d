using System.Text.Json.Nodes;
using Mesh.Testing;
using Mesh.Xds;

namespace Mesh.Cli.Tests.Support;

/// <summary>
/// A real control plane serving Bookinfo (the embedded ServiceEntries plus samples/bookinfo/config), with Bookinfo's
/// workloads connected: productpage-v1, reviews-v1 and reviews-v2 as .NET services on Mesh.Client (with CSDS), and
/// ratings-v1 as a raw ADS client that the test drives (to ACK or NACK by hand).
/// </summary>
internal sealed class BookinfoMesh : IAsyncDisposable
{
    public const string ReviewsRoute = "reviews.default.svc.cluster.local:9080";

    private static readonly string[] DotnetWorkloads = ["productpage-v1.default", "reviews-v1.default", "reviews-v2.default"];
    private static readonly string[] CoreTypes = ["CDS", "LDS", "EDS", "RDS"];

    private readonly List<MeshWorkload> _workloads = [];

    private BookinfoMesh(TestControlPlane controlPlane, AdsTestClient ratings)
    {
        ControlPlane = controlPlane;
        Ratings = ratings;
    }

    public TestControlPlane ControlPlane { get; }

    public Uri Http => ControlPlane.HttpAddress;

    /// <summary>ratings-v1.default: subscribed to the reviews listener and route, both ACKed.</summary>
    public AdsTestClient Ratings { get; }

    public IReadOnlyList<MeshWorkload> Workloads => _workloads;

    /// <summary>The route version ratings-v1 ACKed last.</summary>
    public string RatingsRouteVersion { get; private set; } = string.Empty;

    public static async Task<BookinfoMesh> StartAsync()
    {
        var controlPlane = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["services.yaml"] = Repository.BookinfoServiceEntries(),
            ["destination-rules.yaml"] = File.ReadAllText(Repository.PathOf("samples/bookinfo/config/destination-rules.yaml")),
        });
        var ratings = new AdsTestClient(controlPlane.XdsAddress, "ratings-v1.default");
        var mesh = new BookinfoMesh(controlPlane, ratings);
        try
        {
            mesh._workloads.Add(await MeshWorkload.StartAsync(controlPlane.XdsAddress, "productpage-v1.default", "reviews:9080", "details:9080"));
            mesh._workloads.Add(await MeshWorkload.StartAsync(controlPlane.XdsAddress, "reviews-v1.default", "ratings:9080"));
            mesh._workloads.Add(await MeshWorkload.StartAsync(controlPlane.XdsAddress, "reviews-v2.default", "ratings:9080"));

            await ratings.SendAsync(XdsTypeUrls.Listener, ["reviews:9080"]);
            var lds = await ratings.ReceiveAsync(XdsTypeUrls.Listener);
            await ratings.AckAsync(lds, ["reviews:9080"]);
            await ratings.SendAsync(XdsTypeUrls.RouteConfiguration, [ReviewsRoute]);
            var rds = await ratings.ReceiveAsync(XdsTypeUrls.RouteConfiguration);
            await ratings.AckAsync(rds, [ReviewsRoute]);
            mesh.RatingsRouteVersion = rds.VersionInfo;
            await mesh.WaitUntilAsync(IsSynced, "every workload SYNCED");
            return mesh;
        }
        catch
        {
            await mesh.DisposeAsync();
            throw;
        }
    }

    /// <summary>Copies a scenario from samples/bookinfo/scenarios into the configuration directory.</summary>
    public Task ApplyScenarioAsync(string name) =>
        ControlPlane.WriteFileAsync("scenario.yaml", File.ReadAllText(Repository.PathOf($"samples/bookinfo/scenarios/{name}.yaml")));

    /// <summary>Polls /debug/syncz (through the tool's JSON output) until <paramref name="condition"/> holds; 20 s at most.</summary>
    public async Task<JsonArray> WaitUntilAsync(Func<JsonArray, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        JsonArray? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var result = await MeshTool.RunAsync(Http, "proxy-status", "-o", "json");
            Assert.True(result.ExitCode == 0, result.ToString());
            last = (JsonArray)JsonNode.Parse(result.Out)!;
            if (condition(last))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"not reached within 20 s: {what}; last proxy-status: {last?.ToJsonString()}");
    }

    /// <summary>Whether all four workloads are connected, the .NET ones with every one of CDS, LDS, EDS, RDS SYNCED.</summary>
    public static bool IsSynced(JsonArray clients)
    {
        string? State(string node, string type) => clients.FirstOrDefault(c => (string?)c!["name"] == node)?["types"]?[type]?["state"]?.GetValue<string>();
        return DotnetWorkloads.All(n => CoreTypes.All(t => State(n, t) == "SYNCED"))
            && State("ratings-v1.default", "LDS") == "SYNCED" && State("ratings-v1.default", "RDS") == "SYNCED";
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var workload in _workloads)
        {
            await workload.DisposeAsync();
        }

        await Ratings.DisposeAsync();
        await ControlPlane.DisposeAsync();
    }
}
