using Grpc.Core;

namespace Bookinfo.Details;

/// <summary>Serves the facts about the one book Bookinfo knows.</summary>
internal sealed class DetailsService : Details.DetailsBase
{
    public override Task<BookDetails> GetDetails(GetDetailsRequest request, ServerCallContext context) =>
        Task.FromResult(new BookDetails
        {
            Id = request.ProductId,
            Title = "The Comedy of Errors",
            Author = "William Shakespeare",
            Year = 1595,
            Type = "paperback",
            Pages = 200,
            Publisher = "PublisherA",
            Language = "English",
            Isbn10 = "1234567890",
            Isbn13 = "123-1234567890",
        });
}
