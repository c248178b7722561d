using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>
/// The mesh dashboard in a real browser: Bookinfo started with ./run.sh, its control plane's /dashboard opened in
/// Debian's Chromium (driven by Playwright, headless), and the sample's scenarios applied while the page is watched.
/// Screenshots of each step go to <c>bin/…/artifacts/dashboard/</c>.
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    /// <summary>Debian's Chromium (<c>apt-get install -y chromium</c>; test.sh installs it). Playwright downloads no browser here.</summary>
    private const string ChromiumPath = "/usr/bin/chromium";

    // The ingress gateway is a workload too: the launcher's background traffic comes in through it.
    private static readonly string[] Workloads = ["details-v1", "istio-ingressgateway", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"];

    private readonly string _artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts", "dashboard");
    private readonly CancellationTokenSource _stopLoad = new();
    private BookinfoSample? _sample;
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private Task _load = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        // A missing browser is a failure with its remedy, never a skip.
        Assert.True(File.Exists(ChromiumPath), $"the dashboard browser test needs Chromium at {ChromiumPath}: apt-get install -y chromium (test.sh installs it)");
        Directory.CreateDirectory(_artifacts);
        _sample = await BookinfoSample.StartAsync();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        await _stopLoad.CancelAsync();
        await _load;
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_sample is not null)
        {
            await _sample.DisposeAsync();
        }
    }

    public void Dispose() => _stopLoad.Dispose();

    [Fact]
    public async Task Dashboard_BookinfoScenarios_GraphFollowsTrafficRoutesFaultsAndMtlsAndShowsConfigErrors()
    {
        var sample = _sample!;
        var dashboard = new Uri(sample.DebugAddress, "/dashboard");
        Assert.Contains("dashboard      " + dashboard, sample.Output, StringComparison.Ordinal); // ./run.sh prints where it is
        var page = await _browser!.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1500, Height = 1000 } });
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                output.WriteLine("browser console: " + message.Text);
            }
        };
        await page.GotoAsync(dashboard.ToString());

        // The seven workloads (the six services' and the ingress gateway), grouped in their services, and the base
        // configuration's edges (the launcher's background traffic loads the product page through the gateway every
        // 0.5 s): productpage calls details and reviews (no route: the whole service), reviews v2 and v3 call ratings.
        await WaitForAsync(page, "the seven workloads", TimeSpan.FromSeconds(30), async () =>
        {
            var names = await page.EvalOnSelectorAllAsync<string[]>("#graph .workload", "nodes => nodes.map(n => n.querySelector('text').textContent)");
            return names.Order(StringComparer.Ordinal).SequenceEqual(Workloads);
        });
        await WaitForAsync(page, "the base edges with traffic", TimeSpan.FromSeconds(30), async () =>
        {
            var edges = await EdgesAsync(page);
            return new[] { ("productpage-v1", "details"), ("productpage-v1", "reviews"), ("reviews-v2", "ratings"), ("reviews-v3", "ratings") }
                .All(e => edges.Any(x => x.Source == e.Item1 && x.Destination == e.Item2 && x.Rps > 0 && x.InGraph));
        });
        await ScreenshotAsync(page, "1-bookinfo");

        // More traffic for the measured steps: a split of 90/10 needs more than two pages a second to show.
        _load = LoadProductPageAsync(sample.ProductPage, _stopLoad.Token);

        // canary-v3: productpage's reviews traffic goes 90 % to v1, 10 % to v3, and the graph follows within 10 s.
        var applied = Stopwatch.StartNew();
        await sample.ApplyScenarioAsync("canary-v3");
        var acknowledged = applied.Elapsed;
        IReadOnlyList<EdgeRow> canary = [];
        await WaitForAsync(page, "reviews edges at about 90/10", TimeSpan.FromSeconds(10), async () =>
        {
            canary = await EdgesAsync(page);
            var v1 = canary.SingleOrDefault(e => e.Source == "productpage-v1" && e.Destination == "reviews v1");
            var v3 = canary.SingleOrDefault(e => e.Source == "productpage-v1" && e.Destination == "reviews v3");
            var others = canary.Where(e => e.Source == "productpage-v1" && e.Destination.StartsWith("reviews", StringComparison.Ordinal) && e != v1 && e != v3);
            return v1 is { Share: >= 0.8 and <= 0.97 } && v3 is { Share: >= 0.03 and <= 0.2 } && others.All(e => e.Rps == 0);
        });
        output.WriteLine($"canary-v3: acknowledged by every service {acknowledged.TotalSeconds:F1} s after the scenario command, shown at 90/10 after {applied.Elapsed.TotalSeconds:F1} s: "
            + string.Join("; ", canary.Select(e => e.ToString())));
        await ScreenshotAsync(page, "2-canary-v3");

        // mtls-strict: every service but productpage is STRICT, so the mesh's calls are mutual TLS: locks on the edges.
        await sample.ApplyScenarioAsync("mtls-strict");
        await WaitForAsync(page, "locks on the mutual TLS edges", TimeSpan.FromSeconds(20), async () =>
        {
            var edges = await EdgesAsync(page);
            var toStrict = edges.Where(e => e.InGraph && e.Rps > 0 && !e.Destination.StartsWith("productpage", StringComparison.Ordinal)).ToList();
            var locks = await page.Locator("#graph .edge[data-mtls='true'] .lock").CountAsync();
            return toStrict.Count >= 3 && toStrict.All(e => e.Mtls) && locks >= toStrict.Count;
        });
        var details = page.Locator("details.service[data-service='svc:reviews.default.svc.cluster.local']");
        await details.Locator("summary").ClickAsync();
        Assert.Contains("mTLS STRICT", await details.Locator("summary").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains("reviews-from-productpage", await details.InnerTextAsync(), StringComparison.Ordinal);
        await ScreenshotAsync(page, "3-mtls-strict");

        // A bad file: the control plane keeps the last good configuration, and the page names the file, resource and field.
        await File.WriteAllTextAsync(Path.Combine(sample.ConfigDir, "broken.yaml"), """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: broken-weights
            spec:
              hosts: [details]
              http:
              - route:
                - destination: {host: details}
                  weight: -5
            """);
        string errorText = "";
        await WaitForAsync(page, "the configuration error", TimeSpan.FromSeconds(20), async () =>
        {
            errorText = await page.Locator("#errors").IsVisibleAsync() ? await page.Locator("#errors").InnerTextAsync() : "";
            return errorText.Contains("broken.yaml", StringComparison.Ordinal) && errorText.Contains("broken-weights", StringComparison.Ordinal);
        });
        output.WriteLine("configuration error shown: " + errorText);
        Assert.Contains("weight", errorText, StringComparison.Ordinal);
        await ScreenshotAsync(page, "4-bad-yaml");
        File.Delete(Path.Combine(sample.ConfigDir, "broken.yaml"));

        // Last: the step that depends on what the clients count as errors (see docs/dashboard.md).
        // ratings-abort: reviews v2 calls ratings, half the calls fail: the edge turns red at about 50 % errors.
        await sample.ApplyScenarioAsync("ratings-abort");
        IReadOnlyList<EdgeRow> abort = [];
        await WaitForAsync(page, "reviews-v2 → ratings red at about 50 % errors", TimeSpan.FromSeconds(20), async () =>
        {
            abort = await EdgesAsync(page);
            // The scenario routes ratings to its subset v1: the edge is reviews-v2 → "ratings v1".
            var edge = abort.Where(e => e.Source == "reviews-v2" && e.Destination.StartsWith("ratings", StringComparison.Ordinal)).MaxBy(e => e.Rps);
            return edge is { Health: "failing", ErrorRate: >= 0.3 and <= 0.7 } && await StrokeOfAsync(page, edge.Id) == "rgb(214, 50, 50)";
        });
        output.WriteLine("ratings-abort: " + string.Join("; ", abort.Select(e => e.ToString())));
        await ScreenshotAsync(page, "5-ratings-abort");
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(_artifacts, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine("screenshot: " + path);
    }

    // Polls until the condition holds (the page redraws every second), or fails with what the page showed last.
    private async Task WaitForAsync(IPage page, string what, TimeSpan timeout, Func<Task<bool>> condition)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                output.WriteLine($"{what}: shown after {stopwatch.Elapsed.TotalSeconds:F1} s");
                return;
            }

            if (stopwatch.Elapsed > timeout)
            {
                await ScreenshotAsync(page, "failed-" + new string([.. what.Where(char.IsLetterOrDigit)]));
                var edges = await EdgesAsync(page);
                Assert.Fail($"the dashboard did not show {what} within {timeout.TotalSeconds} s; its edges: {string.Join("; ", edges.Select(e => e.ToString()))}\n"
                    + $"page: {await page.Locator("main").InnerTextAsync()}");
            }

            await Task.Delay(250);
        }
    }

    private static async Task<string> StrokeOfAsync(IPage page, string id) =>
        await page.EvaluateAsync<string>(
            "id => { const p = [...document.querySelectorAll('#graph .edge')].find(e => e.dataset.edge === id)?.querySelector('path'); return p ? getComputedStyle(p).stroke : ''; }",
            id);

    // The traffic table's rows (the same data the graph's edges carry), and whether the graph drew each edge.
    private static async Task<IReadOnlyList<EdgeRow>> EdgesAsync(IPage page)
    {
        var json = await page.EvaluateAsync<JsonElement>("""
            () => [...document.querySelectorAll('#edges tbody tr[data-edge]')].map(r => ({
              id: r.dataset.edge, source: r.dataset.source, destination: r.dataset.destination, rps: r.dataset.rps,
              errorRate: r.dataset.errorRate, share: r.dataset.share, health: r.dataset.health, mtls: r.dataset.mtls,
              inGraph: [...document.querySelectorAll('#graph .edge')].some(e => e.dataset.edge === r.dataset.edge),
            }))
            """);
        return [.. json.EnumerateArray().Select(e => new EdgeRow(
            e.GetProperty("id").GetString()!,
            e.GetProperty("source").GetString()!,
            e.GetProperty("destination").GetString()!,
            Number(e.GetProperty("rps").GetString()) ?? 0,
            Number(e.GetProperty("errorRate").GetString()),
            Number(e.GetProperty("share").GetString()),
            e.GetProperty("health").GetString()!,
            e.GetProperty("mtls").GetString() == "true",
            e.GetProperty("inGraph").GetBoolean()))];

        static double? Number(string? text) =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    // Four callers loading the product page back to back: enough requests a second for a 90/10 split to show in a
    // five-second window, on a busy machine too.
    private static async Task LoadProductPageAsync(Uri productPage, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    using var response = await http.GetAsync(productPage, cancellationToken);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    await Task.Delay(100, CancellationToken.None);
                }
            }
        }));
    }

    private sealed record EdgeRow(string Id, string Source, string Destination, double Rps, double? ErrorRate, double? Share, string Health, bool Mtls, bool InGraph)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"{Source}→{Destination} {Rps:F2} rps share {Share:F2} errors {ErrorRate:F2} {Health}{(Mtls ? " mTLS" : "")}");
    }
}
