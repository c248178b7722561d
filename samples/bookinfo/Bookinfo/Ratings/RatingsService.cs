using Grpc.Core;

namespace Bookinfo.Ratings;

/// <summary>Serves the stars each reviewer gave.</summary>
internal sealed class RatingsService : Ratings.RatingsBase
{
    public override Task<ProductRatings> GetRatings(GetRatingsRequest request, ServerCallContext context) =>
        Task.FromResult(new ProductRatings
        {
            ProductId = request.ProductId,
            Ratings = { ["Reviewer1"] = 5, ["Reviewer2"] = 4 },
        });
}
