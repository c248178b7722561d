using System.Text.RegularExpressions;

namespace Mesh.Samples.Tests.Bookinfo;

/// <summary>What a product page shows, read from its HTML.</summary>
internal static partial class ProductPageHtml
{
    public const string ReviewsUnavailable = "Sorry, product reviews are currently unavailable for this book.";

    public const string RatingsUnavailable = "Ratings service is currently unavailable";

    /// <summary>The colour of each review's stars ("black", "red"); empty when the page shows no stars.</summary>
    public static IReadOnlyList<string> StarColors(string html) =>
        [.. StarsElement().Matches(html).Select(m => m.Groups[1].Value)];

    /// <summary>The reviews workload that answered, like "reviews-v2", or null when reviews failed.</summary>
    public static string? ServedBy(string html) => ServedByElement().Match(html) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex("<p class=\"stars\" data-color=\"([a-z]+)\"")]
    private static partial Regex StarsElement();

    [GeneratedRegex("Reviews served by ([a-z0-9-]+)")]
    private static partial Regex ServedByElement();
}
