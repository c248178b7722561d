using System.Net;
using System.Text;
using Bookinfo.Details;
using Bookinfo.Hosting;
using Bookinfo.Reviews;
using Grpc.Core;

namespace Bookinfo.Productpage;

/// <summary>
/// The web page of a book: its details and reviews, fetched through the mesh from the details and reviews services,
/// and a sign-in box. The signed-in user travels in a cookie and goes to the services as the <c>end-user</c> header.
/// </summary>
internal sealed partial class ProductPage(
    Details.Details.DetailsClient details, Reviews.Reviews.ReviewsClient reviews, TimeProvider time, ILogger<ProductPage> logger)
{
    /// <summary>The cookie holding the signed-in user's name.</summary>
    public const string UserCookie = "user";

    /// <summary>What the page says when the reviews service did not answer in time or failed.</summary>
    public const string ReviewsUnavailable = "Sorry, product reviews are currently unavailable for this book.";

    /// <summary>What the page says when the details service did not answer in time or failed.</summary>
    public const string DetailsUnavailable = "Sorry, product details are currently unavailable for this book.";

    /// <summary>How long the page waits for each service (Istio's productpage waits 3 s for reviews).</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Maps the page, sign-in and sign-out, and a health check.</summary>
    public static void Map(WebApplication app)
    {
        app.MapGet("/", () => Results.Redirect("/productpage"));
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/productpage", (HttpContext http, ProductPage page) => page.RenderAsync(http));
        app.MapPost("/login", async (HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var user = form["username"].ToString().Trim();
            if (user.Length > 0)
            {
                http.Response.Cookies.Append(UserCookie, user, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax });
            }

            return Results.Redirect("/productpage");
        });
        app.MapPost("/logout", (HttpContext http) =>
        {
            http.Response.Cookies.Delete(UserCookie);
            return Results.Redirect("/productpage");
        });
    }

    private async Task<IResult> RenderAsync(HttpContext http)
    {
        var user = http.Request.Cookies[UserCookie];
        var headers = EndUser.Headers(user);
        var deadline = time.GetUtcNow().UtcDateTime + CallTimeout;
        var detailsCall = details.GetDetailsAsync(new GetDetailsRequest { ProductId = 0 }, headers, deadline, http.RequestAborted);
        var reviewsCall = reviews.GetReviewsAsync(new GetReviewsRequest { ProductId = 0 }, headers, deadline, http.RequestAborted);

        BookDetails? book = null;
        ProductReviews? bookReviews = null;
        string? detailsError = null;
        string? reviewsError = null;
        try
        {
            book = await detailsCall;
        }
        catch (RpcException ex)
        {
            Log.CallFailed(logger, "details", ex.StatusCode, ex.Status.Detail);
            detailsError = ex.StatusCode.ToString();
        }

        try
        {
            bookReviews = await reviewsCall;
        }
        catch (RpcException ex)
        {
            Log.CallFailed(logger, "reviews", ex.StatusCode, ex.Status.Detail);
            reviewsError = ex.StatusCode.ToString();
        }

        return Results.Content(Html(user, book, detailsError, bookReviews, reviewsError), "text/html; charset=utf-8");
    }

    private static string Html(string? user, BookDetails? book, string? detailsError, ProductReviews? reviews, string? reviewsError)
    {
        var html = new StringBuilder(4096);
        html.Append("""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Bookinfo on Mesh</title>
            <style>
              body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
              header { background: #263238; color: #fff; padding: .8em 1.5em; display: flex; justify-content: space-between; align-items: center; }
              header form { margin: 0; }
              main { display: grid; grid-template-columns: 1fr 1fr; gap: 2em; padding: 1.5em; }
              h1 { text-align: center; margin: 1em 0 0; }
              .summary { text-align: center; color: #555; }
              dt { font-weight: bold; } dd { margin: 0 0 .5em 0; }
              blockquote { margin: 0 0 1.2em 0; padding-left: 1em; border-left: 3px solid #ccc; }
              .stars { font-size: 1.3em; letter-spacing: .1em; }
              .error { color: #b71c1c; } .muted { color: #777; font-size: .85em; }
            </style>
            </head>
            <body>
            <header><strong>Bookinfo on Mesh</strong>
            """);
        if (string.IsNullOrEmpty(user))
        {
            html.Append("""<form method="post" action="/login">User <input name="username" size="10" placeholder="jason"> <button type="submit">Sign in</button></form>""");
        }
        else
        {
            html.Append("<form method=\"post\" action=\"/logout\">Signed in as <strong class=\"user\">")
                .Append(WebUtility.HtmlEncode(user))
                .Append("</strong> <button type=\"submit\">Sign out</button></form>");
        }

        html.Append("</header>\n<h1>The Comedy of Errors</h1>\n")
            .Append("<p class=\"summary\">Wikipedia says: <em>The Comedy of Errors</em> is one of William Shakespeare's early plays. ")
            .Append("It is his shortest and one of his most farcical comedies.</p>\n<main>\n<section class=\"details\">\n<h2>Book Details</h2>\n");
        if (book is not null)
        {
            html.Append("<dl>");
            Field(html, "Type", book.Type);
            Field(html, "Pages", book.Pages.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Field(html, "Publisher", book.Publisher);
            Field(html, "Language", book.Language);
            Field(html, "ISBN-10", book.Isbn10);
            Field(html, "ISBN-13", book.Isbn13);
            html.Append("</dl>\n");
        }
        else
        {
            html.Append("<p class=\"error\">").Append(DetailsUnavailable).Append("</p>\n<p class=\"muted\">details: ")
                .Append(detailsError).Append("</p>\n");
        }

        html.Append("</section>\n<section class=\"reviews\">\n<h2>Book Reviews</h2>\n");
        if (reviews is not null)
        {
            foreach (var review in reviews.Reviews)
            {
                html.Append("<blockquote><p>").Append(WebUtility.HtmlEncode(review.Text)).Append("</p><small>")
                    .Append(WebUtility.HtmlEncode(review.Reviewer)).Append("</small>");
                if (review.RatingError.Length > 0)
                {
                    html.Append("<p class=\"error rating-error\">").Append(WebUtility.HtmlEncode(review.RatingError)).Append("</p>");
                }
                else if (review.Stars > 0 && review.StarColor is "black" or "red")
                {
                    html.Append("<p class=\"stars\" data-color=\"").Append(review.StarColor)
                        .Append("\" style=\"color: ").Append(review.StarColor == "red" ? "#d32f2f" : "#000")
                        .Append("\" title=\"").Append(review.Stars).Append(" of 5 stars\">")
                        .Append('★', review.Stars).Append('☆', Math.Max(0, 5 - review.Stars)).Append("</p>");
                }

                html.Append("</blockquote>\n");
            }

            html.Append("<p class=\"muted served-by\">Reviews served by ").Append(WebUtility.HtmlEncode(reviews.ServedBy)).Append("</p>\n");
        }
        else
        {
            html.Append("<p class=\"error\">").Append(ReviewsUnavailable).Append("</p>\n<p class=\"muted reviews-error\">reviews: ")
                .Append(reviewsError).Append("</p>\n");
        }

        html.Append("</section>\n</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void Field(StringBuilder html, string name, string value) =>
        html.Append("<dt>").Append(name).Append("</dt><dd>").Append(WebUtility.HtmlEncode(value)).Append("</dd>");

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Call to {Service} failed: {Status} {Detail}")]
        public static partial void CallFailed(ILogger logger, string service, StatusCode status, string detail);
    }
}
