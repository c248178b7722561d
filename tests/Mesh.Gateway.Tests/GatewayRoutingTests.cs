using System.Net;
using Grpc.Net.Client;
using Mesh.Gateway.Tests.Greeting;

namespace Mesh.Gateway.Tests;

/// <summary>
/// The gateway end to end on loopback: a real control plane serving Istio Gateways and VirtualServices, the Mesh gateway
/// (YARP, routes over xDS, upstream calls through Mesh.Client) and real backends.
/// </summary>
public sealed class GatewayRoutingTests
{
    private const string BookinfoGateway = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: bookinfo-gateway, namespace: default}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 8080, name: http, protocol: HTTP}
            hosts: ["*"]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: bookinfo, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [bookinfo-gateway]
          http:
          - match:
            - uri: {exact: /productpage}
            - uri: {prefix: /static}
            route:
            - destination: {host: productpage, port: {number: 9080}}
        """;

    [Fact]
    public async Task Gateway_BookinfoGateway_ServesTheProductPageAndNothingElse()
    {
        await using var mesh = new GatewayMesh();
        var productpage = await mesh.StartBackendAsync("productpage");
        await mesh.StartControlPlaneAsync(new()
        {
            ["services.yaml"] = GatewayMesh.ServiceEntry("productpage", "HTTP", (productpage, "v1")),
            ["gateway.yaml"] = BookinfoGateway,
        });
        await mesh.StartGatewayAsync(8080);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        var page = await GatewayMesh.WaitForStatusAsync(client, mesh.Url(8080, "/productpage?u=normal"));

        Assert.StartsWith("productpage /productpage?u=normal host=127.0.0.1:", page, StringComparison.Ordinal); // the client's Host is kept
        Assert.Equal("productpage /static/css/x.css host=bookinfo.example.com", await GetWithHostAsync(client, mesh.Url(8080, "/static/css/x.css"), "bookinfo.example.com"));
        using var elsewhere = await client.GetAsync(mesh.Url(8080, "/admin"));
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
    }

    [Fact]
    public async Task Gateway_NinetyTenSplit_TrafficSplitByWeight()
    {
        await using var mesh = new GatewayMesh();
        var v1 = await mesh.StartBackendAsync("reviews-v1");
        var v2 = await mesh.StartBackendAsync("reviews-v2");
        await mesh.StartControlPlaneAsync(new()
        {
            ["services.yaml"] = GatewayMesh.ServiceEntry("reviews", "HTTP", (v1, "v1"), (v2, "v2")),
            ["gateway.yaml"] = """
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: gw, namespace: default}
                spec:
                  selector: {istio: ingressgateway}
                  servers:
                  - port: {number: 8080, name: http, protocol: HTTP}
                    hosts: ["*"]
                ---
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: reviews, namespace: default}
                spec:
                  host: reviews
                  subsets:
                  - {name: v1, labels: {version: v1}}
                  - {name: v2, labels: {version: v2}}
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: reviews-split, namespace: default}
                spec:
                  hosts: ["*"]
                  gateways: [gw]
                  http:
                  - route:
                    - destination: {host: reviews, subset: v1, port: {number: 9080}}
                      weight: 90
                    - destination: {host: reviews, subset: v2, port: {number: 9080}}
                      weight: 10
                """,
        });
        await mesh.StartGatewayAsync(8080);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        await GatewayMesh.WaitForStatusAsync(client, mesh.Url(8080, "/reviews"));

        var counts = new Dictionary<string, int> { ["reviews-v1"] = 0, ["reviews-v2"] = 0 };
        const int Requests = 600;
        for (var i = 0; i < Requests; i++)
        {
            var body = await client.GetStringAsync(mesh.Url(8080, "/reviews"));
            counts[body.Split(' ')[0]]++;
        }

        // 10 % of 600 is 60; the binomial standard deviation is about 7.3, so 30..95 is over four of them each way.
        Assert.InRange(counts["reviews-v2"], 30, 95);
        Assert.Equal(Requests, counts["reviews-v1"] + counts["reviews-v2"]);
    }

    [Fact]
    public async Task Gateway_UriRewriteAndHeaders_BackendSeesRewrittenRequest()
    {
        await using var mesh = new GatewayMesh();
        var ratings = await mesh.StartBackendAsync("ratings");
        await mesh.StartControlPlaneAsync(new()
        {
            ["services.yaml"] = GatewayMesh.ServiceEntry("ratings", "HTTP", (ratings, "v1")),
            ["gateway.yaml"] = """
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: gw, namespace: default}
                spec:
                  selector: {istio: ingressgateway}
                  servers:
                  - port: {number: 8080, name: http, protocol: HTTP}
                    hosts: ["api.example.com"]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: api, namespace: default}
                spec:
                  hosts: ["api.example.com"]
                  gateways: [gw]
                  http:
                  - match: [{uri: {prefix: /api/v1/ratings/}}]
                    rewrite: {uri: /ratings/}
                    headers:
                      response: {set: {x-served-through: mesh-gateway}}
                    route:
                    - destination: {host: ratings, port: {number: 9080}}
                  - match: [{uri: {exact: /old}}]
                    redirect: {uri: /api/v1/ratings/0}
                """,
        });
        await mesh.StartGatewayAsync(8080);
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(20) };
        await WaitForHostAsync(client, mesh.Url(8080, "/api/v1/ratings/7"), "api.example.com");

        using var request = new HttpRequestMessage(HttpMethod.Get, mesh.Url(8080, "/api/v1/ratings/7?stars=5"));
        request.Headers.Host = "api.example.com";
        using var response = await client.SendAsync(request);
        Assert.Equal("ratings /ratings/7?stars=5 host=api.example.com", await response.Content.ReadAsStringAsync());
        Assert.Equal("mesh-gateway", Assert.Single(response.Headers.GetValues("x-served-through")));

        using var redirectRequest = new HttpRequestMessage(HttpMethod.Get, mesh.Url(8080, "/old"));
        redirectRequest.Headers.Host = "api.example.com";
        using var redirect = await client.SendAsync(redirectRequest);
        Assert.Equal(HttpStatusCode.MovedPermanently, redirect.StatusCode);
        Assert.EndsWith("/api/v1/ratings/0", redirect.Headers.Location!.ToString(), StringComparison.Ordinal);

        // Another host has no virtual host at the gateway.
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(mesh.Url(8080, "/api/v1/ratings/7"))).StatusCode);
    }

    [Fact]
    public async Task Gateway_GrpcRoute_ReachesTheGrpcService()
    {
        await using var mesh = new GatewayMesh();
        var greeter = await mesh.StartGrpcBackendAsync("greeter-v1");
        await mesh.StartControlPlaneAsync(new()
        {
            ["services.yaml"] = GatewayMesh.ServiceEntry("greeter", "GRPC", (greeter, "v1")),
            ["gateway.yaml"] = """
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: grpc-gateway, namespace: default}
                spec:
                  selector: {istio: ingressgateway}
                  servers:
                  - port: {number: 8082, name: grpc, protocol: GRPC}
                    hosts: ["*"]
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: greeter, namespace: default}
                spec:
                  hosts: ["*"]
                  gateways: [grpc-gateway]
                  http:
                  - match: [{uri: {prefix: /mesh.gateway.tests.Greeter/}}]
                    timeout: 10s
                    route:
                    - destination: {host: greeter, port: {number: 9080}}
                """,
        });
        await mesh.StartGatewayAsync(8082);
        using var channel = GrpcChannel.ForAddress(mesh.Url(8082, "/"));
        var client = new Greeter.GreeterClient(channel);

        GreetReply? reply = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(20); reply is null && DateTime.UtcNow < deadline;)
        {
            try
            {
                reply = await client.GreetAsync(new GreetRequest { Name = "gateway" }, deadline: DateTime.UtcNow.AddSeconds(5));
            }
            catch (Grpc.Core.RpcException)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(reply);
        Assert.Equal(("hello gateway", "greeter-v1"), (reply.Message, reply.ServedBy));
    }

    internal static async Task<string> GetWithHostAsync(HttpClient client, Uri url, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Host = host;
        using var response = await client.SendAsync(request);
        return await response.Content.ReadAsStringAsync();
    }

    internal static async Task WaitForHostAsync(HttpClient client, Uri url, string host)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Host = host;
            try
            {
                using var response = await client.SendAsync(request);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
        }

        throw new TimeoutException($"{url} (Host {host}) did not succeed within 20 s");
    }
}
