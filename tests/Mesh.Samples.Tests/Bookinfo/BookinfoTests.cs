using System.Diagnostics;
using Bookinfo.Reviews;
using Grpc.Core;
using static Mesh.Samples.Tests.Bookinfo.ProductPageHtml;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>
/// The README's walk-through, checked: Bookinfo started with ./run.sh, each scenario applied with the sample's
/// scenario command, and the product page's HTML read as a user would see it.
/// </summary>
public sealed class BookinfoTests(BookinfoFixture fixture) : IClassFixture<BookinfoFixture>
{
    private BookinfoSample Sample => fixture.Sample;

    [Fact]
    public async Task ProductPage_ThroughTheIngressGateway_PageServedAndOtherPathsNotFound()
    {
        // bookinfo-gateway (samples/bookinfo/config): the Gateway on server port 8080 and the VirtualService naming it.
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var page = await client.GetAsync(Sample.GatewayPage);
        var html = await page.Content.ReadAsStringAsync();
        Assert.True(page.IsSuccessStatusCode, $"GET {Sample.GatewayPage} -> {(int)page.StatusCode}: {html}");
        Assert.Contains("William Shakespeare", html, StringComparison.Ordinal);
        Assert.StartsWith("reviews-v", ServedBy(html), StringComparison.Ordinal);

        using var outside = await client.GetAsync(new Uri(Sample.GatewayPage, "/debug/configz"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, outside.StatusCode);
    }

    [Fact]
    public async Task ProductPage_AllToV1_ShowsNoStars()
    {
        await Sample.ApplyScenarioAsync("all-v1");

        foreach (var user in new string?[] { null, "jason" })
        {
            for (var i = 0; i < 15; i++)
            {
                var html = await Sample.LoadPageAsync(user);
                Assert.Equal("reviews-v1", ServedBy(html));
                Assert.Empty(StarColors(html));
                Assert.Contains("William Shakespeare", html, StringComparison.Ordinal);
                Assert.DoesNotContain("currently unavailable", html, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task ProductPage_JasonToV2_JasonSeesBlackStarsAndOthersNone()
    {
        await Sample.ApplyScenarioAsync("jason-v2");

        for (var i = 0; i < 15; i++)
        {
            var html = await Sample.LoadPageAsync("jason");
            Assert.Equal("reviews-v2", ServedBy(html));
            Assert.Equal(["black", "black"], StarColors(html));
        }

        for (var i = 0; i < 10; i++)
        {
            var html = await Sample.LoadPageAsync(user: null);
            Assert.Equal("reviews-v1", ServedBy(html));
            Assert.Empty(StarColors(html));
        }
    }

    [Fact]
    public async Task ProductPage_Canary90To10_AboutTenPercentShowRedStars()
    {
        await Sample.ApplyScenarioAsync("canary-v3");

        const int Loads = 500;
        var red = 0;
        for (var i = 0; i < Loads; i++)
        {
            var html = await Sample.LoadPageAsync();
            var colors = StarColors(html);
            if (colors.Count > 0)
            {
                Assert.Equal(["red", "red"], colors);
                Assert.Equal("reviews-v3", ServedBy(html));
                red++;
            }
            else
            {
                Assert.Equal("reviews-v1", ServedBy(html));
            }
        }

        var percent = 100.0 * red / Loads;
        Assert.InRange(percent, 6.0, 14.0);
    }

    [Fact]
    public async Task ProductPage_RatingsDelayForJason_ReportsTheReviewsTimeout()
    {
        await Sample.ApplyScenarioAsync("ratings-delay");
        await Sample.WaitForPageAsync("jason", html => html.Contains(ReviewsUnavailable, StringComparison.Ordinal), "the reviews timeout");

        for (var i = 0; i < 5; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            var html = await Sample.LoadPageAsync("jason");
            stopwatch.Stop();

            // The route gives jason's reviews call 1 s; ratings answers him after 2 s. The page does not wait for it.
            Assert.Contains(ReviewsUnavailable, html, StringComparison.Ordinal);
            Assert.Contains("reviews: DeadlineExceeded", html, StringComparison.Ordinal);
            Assert.Null(ServedBy(html));
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"the page took {stopwatch.Elapsed}");
        }

        // Everyone else is not delayed and sees reviews v1.
        var other = await Sample.LoadPageAsync();
        Assert.Equal("reviews-v1", ServedBy(other));
    }

    [Fact]
    public async Task ProductPage_RatingsAbort50Percent_AboutHalfThePagesShowTheRatingsError()
    {
        await Sample.ApplyScenarioAsync("ratings-abort");

        const int Loads = 200;
        var failed = 0;
        for (var i = 0; i < Loads; i++)
        {
            var html = await Sample.LoadPageAsync();
            Assert.True(ServedBy(html) == "reviews-v2", html);
            if (html.Contains(RatingsUnavailable, StringComparison.Ordinal))
            {
                Assert.Empty(StarColors(html));
                failed++;
            }
            else
            {
                Assert.Equal(["black", "black"], StarColors(html));
            }
        }

        Assert.InRange(100.0 * failed / Loads, 38.0, 62.0);
    }

    [Fact]
    public async Task Reviews_CalledDirectlyThroughTheMesh_RoutesByEndUser()
    {
        await Sample.ApplyScenarioAsync("jason-v2");
        await using var client = Sample.CreateMeshClientAs("details", out var reviews);

        var asJason = await reviews.GetReviewsAsync(
            new GetReviewsRequest(), new Metadata { { "end-user", "jason" } }, DateTime.UtcNow.AddSeconds(30));
        var anonymous = await reviews.GetReviewsAsync(new GetReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(30));

        Assert.Equal("reviews-v2", asJason.ServedBy);
        Assert.All(asJason.Reviews, r => Assert.Equal(("black", true), (r.StarColor, r.Stars > 0)));
        Assert.Equal("reviews-v1", anonymous.ServedBy);
        Assert.All(anonymous.Reviews, r => Assert.Equal(0, r.Stars));
    }

    [Fact]
    public async Task ProductPage_MtlsStrictAndOnlyProductpageMayCallReviews_PageWorksOtherIdentityRefused()
    {
        await Sample.ApplyScenarioAsync("all-v1", "mtls-strict");

        // The page still works: productpage calls details and reviews (and reviews calls ratings) over mTLS.
        var html = await Sample.WaitForPageAsync(null, page => page.Contains("Reviewer1", StringComparison.Ordinal) && !page.Contains(ReviewsUnavailable, StringComparison.Ordinal), "the page with reviews");
        Assert.Empty(StarColors(html));

        // details has a mesh certificate but is not productpage: authenticated, then refused by reviews' policy.
        await using var client = Sample.CreateMeshClientAs("details", out var reviews);
        RpcException? denied = null;
        for (var i = 0; i < 100 && denied?.StatusCode != StatusCode.PermissionDenied; i++)
        {
            try
            {
                await reviews.GetReviewsAsync(new GetReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            }
            catch (RpcException ex)
            {
                denied = ex;
                await Task.Delay(100);
            }
        }

        Assert.Equal(StatusCode.PermissionDenied, denied?.StatusCode);

        // A plaintext caller outside the mesh is refused at the connection (STRICT).
        var reviewsPort = Sample.PortOf("reviews-v1");
        using var plain = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{reviewsPort}");
        var refused = await Assert.ThrowsAsync<RpcException>(() => new global::Bookinfo.Reviews.Reviews.ReviewsClient(plain)
            .GetReviewsAsync(new GetReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal }); // a reset connection
    }
}
