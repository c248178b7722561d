using Mesh.Client.Routing;

namespace Mesh.Client.Tests.Routing;

public sealed class RequestUriTextTests
{
    [Theory]
    [InlineData("http://reviews:9080/reviews/0")]
    [InlineData("http://reviews:9080/reviews/0?x=1#f")]
    [InlineData("http://reviews:9080")]
    [InlineData("http://reviews:9080?q")]
    [InlineData("https://Reviews.Default/a;b=c/d:e@f!$&'()*+,=~_-.x")]
    [InlineData("http://reviews/a b/c")]
    [InlineData("http://reviews/%41%2F%7e")]
    [InlineData("http://reviews/a/./b/../c")]
    [InlineData("http://reviews/a/..")]
    [InlineData("http://reviews/a\\b")]
    [InlineData("http://user:pw@reviews/a")]
    [InlineData("http://[::1]:8080/a//b")]
    [InlineData("http://reviews/é/ü")]
    [InlineData("http://reviews/a|b{c}")]
    public void AbsolutePath_AnyUri_IsTheUrisOwn(string text)
    {
        var uri = new Uri(text);

        Assert.Equal(new Uri(text).AbsolutePath, RequestUriText.AbsolutePath(uri));
        Assert.Equal(new Uri(text).AbsolutePath, RequestUriText.AbsolutePath(new Uri(text))); // once known, too
    }

    [Fact]
    public void AbsolutePath_PathWithoutCanonicalization_IsTheUrisOwn()
    {
        var uri = new Uri("http://reviews/a/../b%41", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

        Assert.Equal(uri.AbsolutePath, RequestUriText.AbsolutePath(uri));
    }

    [Theory]
    [InlineData("http://reviews:9080/x?y", false, "reviews:9080", "/x?y")]
    [InlineData("https://reviews", true, "reviews", "")]
    [InlineData("http://[::1]:80#f", false, "[::1]:80", "#f")]
    public void TrySplit_HttpUri_AuthorityAndRest(string text, bool https, string authority, string rest)
    {
        Assert.True(RequestUriText.TrySplit(new Uri(text), out var isHttps, out var a, out var r));
        Assert.Equal(https, isHttps);
        Assert.Equal(authority, a.ToString());
        Assert.Equal(rest, r.ToString());
    }

    [Theory]
    [InlineData("http://user@reviews/x")]
    [InlineData("ftp://reviews/x")]
    public void TrySplit_UserInfoOrOtherScheme_False(string text)
    {
        Assert.False(RequestUriText.TrySplit(new Uri(text), out _, out _, out _));
    }
}
