using Bookinfo.Hosting;
using Bookinfo.Ratings;
using Grpc.Core;

namespace Bookinfo.Reviews;

/// <summary>
/// Serves the reviews of a book. v1 shows no stars; v2 and v3 ask the ratings service (through the mesh, passing the
/// end user on) and show its stars in black (v2) or red (v3).
/// </summary>
internal sealed partial class ReviewsService(
    ServiceArguments service, Ratings.Ratings.RatingsClient ratings, TimeProvider time, ILogger<ReviewsService> logger) : Reviews.ReviewsBase
{
    /// <summary>
    /// The longest this service waits for ratings (Istio's reviews waits 10 s). The call is also cancelled when the call
    /// being served ends; its deadline is not copied on purpose — when the caller's deadline passes, the caller gets
    /// DEADLINE_EXCEEDED, never a reply that raced it with "ratings unavailable".
    /// </summary>
    private static readonly TimeSpan RatingsTimeout = TimeSpan.FromSeconds(10);

    private static readonly (string Reviewer, string Text)[] Texts =
    [
        ("Reviewer1", "A farce that never lets up: two pairs of twins, one city, and not a single scene that drags."),
        ("Reviewer2", "Short and quick, though the mistaken identities wear thin by the fourth act."),
    ];

    public override async Task<ProductReviews> GetReviews(GetReviewsRequest request, ServerCallContext context)
    {
        var color = service.Version switch
        {
            "v2" => "black",
            "v3" => "red",
            _ => "",
        };
        ProductRatings? stars = null;
        string? error = null;
        if (color.Length > 0)
        {
            var deadline = time.GetUtcNow().UtcDateTime + RatingsTimeout;
            try
            {
                stars = await ratings.GetRatingsAsync(
                    new GetRatingsRequest { ProductId = request.ProductId },
                    EndUser.Headers(EndUser.From(context)),
                    deadline,
                    context.CancellationToken);
            }
            catch (RpcException ex)
            {
                Log.RatingsFailed(logger, ex.StatusCode, ex.Status.Detail);
                error = "Ratings service is currently unavailable";
            }
        }

        var reply = new ProductReviews { ProductId = request.ProductId, ServedBy = service.Workload };
        foreach (var (reviewer, text) in Texts)
        {
            var review = new Review { Reviewer = reviewer, Text = text, StarColor = color };
            if (error is not null)
            {
                review.RatingError = error;
            }
            else if (stars is not null && stars.Ratings.TryGetValue(reviewer, out var count))
            {
                review.Stars = count;
            }

            reply.Reviews.Add(review);
        }

        return reply;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Ratings call failed: {Status} {Detail}")]
        public static partial void RatingsFailed(ILogger logger, StatusCode status, string detail);
    }
}
