using System.Net;
using Mesh.Client.LoadBalancing;

namespace Mesh.Client.Tests.LoadBalancing;

public sealed class EndpointRequestUriTests
{
    [Fact]
    public void Apply_CallUri_IsTheUriGrpcBalancerWouldBuild()
    {
        var callUri = new Uri("http://reviews:9080/reviews.Reviews/Get");
        using var request = new HttpRequestMessage(HttpMethod.Post, callUri);

        EndpointRequestUri.Apply(request, callUri, new DnsEndPoint("10.1.2.3", 8080));

        // What Grpc.Net.Client's BalancerHttpHandler builds after a pick (so it leaves the request alone).
        var expected = new UriBuilder(callUri) { Host = "10.1.2.3", Port = 8080 }.Uri;
        Assert.Equal(expected, request.RequestUri);
        Assert.Equal("10.1.2.3", request.RequestUri!.Host);
        Assert.Equal(8080, request.RequestUri.Port);
        Assert.Equal("/reviews.Reviews/Get", request.RequestUri.AbsolutePath);
    }

    [Fact]
    public void Apply_SameCallAndAddress_ReusesOneUri()
    {
        var callUri = new Uri("http://reviews:9080/reviews.Reviews/Get");
        var address = new DnsEndPoint("10.1.2.3", 8080);
        using var first = new HttpRequestMessage(HttpMethod.Post, callUri);
        using var second = new HttpRequestMessage(HttpMethod.Post, callUri);

        EndpointRequestUri.Apply(first, callUri, address);
        EndpointRequestUri.Apply(second, callUri, address);

        Assert.Same(first.RequestUri, second.RequestUri);
    }

    [Fact]
    public void Apply_OtherAddressOrMethod_GetsItsOwnUri()
    {
        var get = new Uri("http://reviews:9080/reviews.Reviews/Get");
        var list = new Uri("http://reviews:9080/reviews.Reviews/List");
        var a = new DnsEndPoint("10.1.2.3", 8080);
        var b = new DnsEndPoint("10.1.2.4", 8080);
        using var toA = new HttpRequestMessage(HttpMethod.Post, get);
        using var toB = new HttpRequestMessage(HttpMethod.Post, get);
        using var listToA = new HttpRequestMessage(HttpMethod.Post, list);

        EndpointRequestUri.Apply(toA, get, a);
        EndpointRequestUri.Apply(toB, get, b);
        EndpointRequestUri.Apply(listToA, list, a);

        Assert.Equal("10.1.2.3", toA.RequestUri!.Host);
        Assert.Equal("10.1.2.4", toB.RequestUri!.Host);
        Assert.Equal("/reviews.Reviews/List", listToA.RequestUri!.AbsolutePath);
        Assert.Equal("10.1.2.3", listToA.RequestUri.Host);
    }

    [Fact]
    public void Apply_RelativeUri_LeavesRequestAlone()
    {
        var relative = new Uri("/reviews.Reviews/Get", UriKind.Relative);
        using var request = new HttpRequestMessage(HttpMethod.Post, relative);

        EndpointRequestUri.Apply(request, relative, new DnsEndPoint("10.1.2.3", 8080));

        Assert.Same(relative, request.RequestUri);
    }

    [Theory]
    [InlineData("http://reviews:9080/reviews/1?x=%20y&z=1")]
    [InlineData("https://reviews/a/../b/c%2Fd")]
    [InlineData("http://reviews.default.svc.cluster.local")]
    [InlineData("http://[::1]:9080/v?q")]
    [InlineData("http://user:secret@reviews:9080/private")]
    [InlineData("http://reviews")]
    public void ForHttp_AnyRequestUri_IsTheUriBuilderResult(string requestUri)
    {
        var address = new DnsEndPoint("10.1.2.3", 8080);
        var target = new Uri(requestUri);

        var first = EndpointRequestUri.ForHttp(target, address);
        var again = EndpointRequestUri.ForHttp(new Uri(requestUri), address);

        var expected = new UriBuilder(target) { Host = "10.1.2.3", Port = 8080 }.Uri;
        Assert.Equal(expected.AbsoluteUri, first.AbsoluteUri);
        Assert.Equal(expected.AbsoluteUri, again.AbsoluteUri);
        Assert.Equal(expected.UserInfo, again.UserInfo);
    }

    [Fact]
    public void ForHttp_SamePathOnOneEndpoint_ReusesOneUri_OtherPathsAndEndpointsDiffer()
    {
        var baseAddress = new Uri("http://ratings:9080");
        var a = new DnsEndPoint("10.1.2.3", 8080);
        var b = new DnsEndPoint("10.1.2.4", 8080);

        var first = EndpointRequestUri.ForHttp(new Uri(baseAddress, "/ratings/0"), a);
        var second = EndpointRequestUri.ForHttp(new Uri(baseAddress, "/ratings/0"), a);
        var otherPath = EndpointRequestUri.ForHttp(new Uri(baseAddress, "/ratings/1"), a);
        var otherEndpoint = EndpointRequestUri.ForHttp(new Uri(baseAddress, "/ratings/0"), b);
        var https = EndpointRequestUri.ForHttp(new Uri("https://ratings:9080/ratings/0"), a);

        Assert.Same(first, second);
        Assert.Equal("http://10.1.2.3:8080/ratings/1", otherPath.AbsoluteUri);
        Assert.Equal("http://10.1.2.4:8080/ratings/0", otherEndpoint.AbsoluteUri);
        Assert.Equal("https://10.1.2.3:8080/ratings/0", https.AbsoluteUri);
    }
}
