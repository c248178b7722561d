using System.Net;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>
/// The rest of a VirtualService rule on the HttpClient path, end to end through the public API (AddMesh +
/// AddMeshRouting) against real Kestrel backends: rewrite, header manipulation, redirect, direct response, mirror.
/// </summary>
public sealed class RouteActionsEndToEndTests
{
    private static string ServiceEntry(EchoBackends backends, params string[] names) => MeshYaml.ServiceEntry(backends.Ports, "http", "HTTP", names);

    private static string Rules(string rules) => $"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {"{"}name: greeter{"}"}
        spec:
          hosts: [greeter]
          http:
        {rules}
        """;

    private static async Task<(ServiceProvider Provider, HttpClient Client, TestControlPlane ControlPlane)> StartAsync(EchoBackends backends, string virtualService, params string[] subsets)
    {
        var files = new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, [.. backends.Ports.Keys]),
            ["vs.yaml"] = virtualService,
        };
        if (subsets.Length > 0)
        {
            files["dr.yaml"] = MeshYaml.DestinationRule(subsets: subsets);
        }

        var cp = await TestControlPlane.StartAsync(files);
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter")).AddMeshRouting();
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh"), cp);
    }

    [Fact]
    public async Task HttpClient_PrefixRewriteWithAuthority_BackendSeesRewrittenPathQueryAndHost()
    {
        await using var backends = await EchoBackends.StartAsync("v1");
        var (provider, client, cp) = await StartAsync(backends, Rules("""
              - match: [{uri: {prefix: /old/}}]
                rewrite: {uri: /new/, authority: greeter-internal}
                route: [{destination: {host: greeter}}]
            """));
        await using var _ = cp;
        await using var __ = provider;

        var body = await client.GetStringAsync("/old/page?q=1");

        Assert.Equal("v1 /new/page?q=1", body);
        var seen = Assert.Single(backends.Requests["v1"]);
        Assert.Equal("greeter-internal", seen.Host);
    }

    [Fact]
    public async Task HttpClient_RegexRewrite_SubstitutesGroupsAndMovesTheQuery()
    {
        await using var backends = await EchoBackends.StartAsync("v1");
        var (provider, client, cp) = await StartAsync(backends, Rules("""
              - match: [{uri: {regex: "/items/[0-9]+"}}]
                rewrite: {uriRegexRewrite: {match: "^/items/([0-9]+)$", rewrite: "/item?id=\\1"}}
                route: [{destination: {host: greeter}}]
            """));
        await using var _ = cp;
        await using var __ = provider;

        Assert.Equal("v1 /item?id=42", await client.GetStringAsync("/items/42"));
    }

    [Fact]
    public async Task HttpClient_HeaderManipulation_RequestAndResponseSetAddRemove()
    {
        await using var backends = await EchoBackends.StartAsync("v1");
        var (provider, client, cp) = await StartAsync(backends, Rules("""
              - headers:
                  request:
                    set: {x-set: one}
                    add: {x-added: two}
                    remove: [x-remove-me]
                  response:
                    set: {x-resp-set: a}
                    add: {x-resp-add: b}
                    remove: [x-backend-secret]
                route: [{destination: {host: greeter}}]
            """));
        await using var _ = cp;
        await using var __ = provider;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
        request.Headers.Add("x-set", "caller");
        request.Headers.Add("x-added", "caller");
        request.Headers.Add("x-remove-me", "caller");

        using var response = await client.SendAsync(request);

        response.EnsureSuccessStatusCode();
        var seen = Assert.Single(backends.Requests["v1"]);
        Assert.Equal("one", seen.Headers["x-set"]);
        Assert.Equal("caller,two", seen.Headers["x-added"].Replace(" ", string.Empty, StringComparison.Ordinal));
        Assert.False(seen.Headers.ContainsKey("x-remove-me"));
        Assert.Equal(["a"], response.Headers.GetValues("x-resp-set"));
        Assert.Equal(["from-backend", "b"], response.Headers.GetValues("x-resp-add"));
        Assert.False(response.Headers.Contains("x-backend-secret"));
    }

    [Fact]
    public async Task HttpClient_PerDestinationHeaders_FollowTheChosenDestination()
    {
        await using var backends = await EchoBackends.StartAsync("v1", "v2");
        var (provider, client, cp) = await StartAsync(backends, Rules("""
              - route:
                - destination: {host: greeter, subset: v1}
                  weight: 50
                  headers: {request: {set: {x-subset: v1}}, response: {set: {x-served-by: v1}}}
                - destination: {host: greeter, subset: v2}
                  weight: 50
                  headers: {request: {set: {x-subset: v2}}, response: {set: {x-served-by: v2}}}
            """), "v1", "v2");
        await using var _ = cp;
        await using var __ = provider;

        for (var i = 0; i < 40; i++)
        {
            using var response = await client.GetAsync("/hello");
            var backend = (await response.Content.ReadAsStringAsync()).Split(' ')[0];
            Assert.Equal([backend], response.Headers.GetValues("x-served-by"));
        }

        Assert.All(backends.Requests["v1"], r => Assert.Equal("v1", r.Headers["x-subset"]));
        Assert.All(backends.Requests["v2"], r => Assert.Equal("v2", r.Headers["x-subset"]));
    }

    [Theory]
    [InlineData(301, HttpStatusCode.MovedPermanently)]
    [InlineData(302, HttpStatusCode.Found)]
    public async Task HttpClient_Redirect_AnsweredInProcessWithLocation(int code, HttpStatusCode expected)
    {
        await using var backends = await EchoBackends.StartAsync("v1");
        var (provider, client, cp) = await StartAsync(backends, Rules($$$"""
              - match: [{uri: {prefix: /old}}]
                redirect: {uri: /new, authority: moved.example, redirectCode: {{{code}}}}
              - route: [{destination: {host: greeter}}]
            """));
        await using var _ = cp;
        await using var __ = provider;

        using var response = await client.GetAsync("/old/page?x=1");

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(new Uri("http://moved.example/new?x=1"), response.Headers.Location);
        Assert.Equal(0, backends.Count("v1"));
    }

    [Fact]
    public async Task HttpClient_DirectResponse_AnsweredInProcessWithStatusAndBody()
    {
        await using var backends = await EchoBackends.StartAsync("v1");
        var (provider, client, cp) = await StartAsync(backends, Rules("""
              - match: [{uri: {exact: /gone}}]
                directResponse: {status: 410, body: {string: "this page has gone"}}
              - route: [{destination: {host: greeter}}]
            """));
        await using var _ = cp;
        await using var __ = provider;

        using var response = await client.GetAsync("/gone");

        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        Assert.Equal("this page has gone", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, backends.Count("v1"));
        Assert.Equal("v1 /other", await client.GetStringAsync("/other"));
    }

    [Fact]
    public async Task HttpClient_Mirror_CopiesEveryRequestToTheShadowFireAndForget()
    {
        await using var backends = await EchoBackends.StartAsync("v1", "shadow");
        var (provider, client, cp) = await StartAsync(backends, Rules("""
              - route: [{destination: {host: greeter, subset: v1}}]
                mirror: {host: greeter, subset: shadow}
            """), "v1", "shadow");
        await using var _ = cp;
        await using var __ = provider;

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("v1 /hello", await client.GetStringAsync("/hello"));
        }

        for (var i = 0; i < 100 && backends.Count("shadow") < 20; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(20, backends.Count("v1"));
        Assert.Equal(20, backends.Count("shadow"));
        Assert.All(backends.Requests["shadow"], r => Assert.EndsWith("-shadow", r.Host, StringComparison.Ordinal));
    }

    [Fact]
    public async Task HttpClient_MirrorPercentage_CopiesAboutThatShare()
    {
        await using var backends = await EchoBackends.StartAsync("v1", "shadow");
        var (provider, client, cp) = await StartAsync(backends, Rules("""
              - route: [{destination: {host: greeter, subset: v1}}]
                mirror: {host: greeter, subset: shadow}
                mirrorPercentage: {value: 25}
            """), "v1", "shadow");
        await using var _ = cp;
        await using var __ = provider;

        for (var i = 0; i < 400; i++)
        {
            await client.GetStringAsync("/hello");
        }

        await Task.Delay(500);

        Assert.Equal(400, backends.Count("v1"));
        Assert.InRange(backends.Count("shadow"), 60, 140); // 25 % of 400 = 100, generous bounds
    }
}
