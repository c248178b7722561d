using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>The HttpClient path: the same routing as gRPC through AddMeshRouting(), and ServiceDiscovery through xDS.</summary>
public sealed class HttpClientTests
{
    private static string ServiceEntry(RestBackends backends, params string[] names) => MeshYaml.ServiceEntry(backends.Ports, "http", "HTTP", names);

    private static ServiceProvider Build(TestControlPlane cp, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddMesh(o => o.BootstrapJson = MeshYaml.Bootstrap(cp.XdsAddress));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter")).AddMeshRouting();
        more?.Invoke(services);
        return services.BuildServiceProvider();
    }

    private static async Task<Dictionary<string, int>> GetAsync(HttpClient client, int count, string? user = null)
    {
        var seen = new Dictionary<string, int>();
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
            if (user is not null)
            {
                request.Headers.Add("end-user", user);
            }

            using var response = await client.SendAsync(request);
            response.EnsureSuccessStatusCode();
            var backend = (await response.Content.ReadAsStringAsync()).Split(' ')[0];
            seen[backend] = seen.GetValueOrDefault(backend) + 1;
        }

        return seen;
    }

    [Fact]
    public async Task MeshRouting_VirtualServiceSplit_AppliesToHttpClientCalls()
    {
        await using var backends = await RestBackends.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, "v1", "v2"),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: ["v1", "v2"]),
            ["vs.yaml"] = MeshYaml.Split(80, 20),
        });
        await using var provider = Build(cp);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        var seen = await GetAsync(client, 2000);

        Assert.InRange(seen.GetValueOrDefault("v1"), 1540, 1660);
        Assert.InRange(seen.GetValueOrDefault("v2"), 340, 460);
    }

    [Fact]
    public async Task MeshRouting_HeaderMatch_AppliesToHttpClientCalls_AndHostHeaderIsKept()
    {
        await using var backends = await RestBackends.StartAsync("v1", "v2");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, "v1", "v2"),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: ["v1", "v2"]),
            ["vs.yaml"] = MeshYaml.HeaderMatch,
        });
        await using var provider = Build(cp);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        Assert.Equal(100, (await GetAsync(client, 100, "jason")).GetValueOrDefault("v2"));
        Assert.Equal(100, (await GetAsync(client, 100, "someone")).GetValueOrDefault("v1"));
        Assert.Equal("v1 greeter", await client.GetStringAsync("/hello"));
    }

    [Fact]
    public async Task MeshRouting_NoMatchingRoute_Answers404WithReason()
    {
        await using var backends = await RestBackends.StartAsync("v1", "v2");
        const string onlyJason = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: greeter}
            spec:
              hosts: [greeter]
              http:
              - match: [{headers: {end-user: {exact: jason}}}]
                route: [{destination: {host: greeter, subset: v2}}]
            """;
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, "v1", "v2"),
            ["dr.yaml"] = MeshYaml.DestinationRule(subsets: ["v1", "v2"]),
            ["vs.yaml"] = onlyJason,
        });
        await using var provider = Build(cp);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        using var response = await client.GetAsync("/hello");

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("mesh: no matching route", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, backends.Calls.Values.Sum());
    }

    [Fact]
    public async Task ServiceDiscovery_ResolvesThroughXds_AndChangeTokenFiresOnEndpointUpdate()
    {
        await using var backends = await RestBackends.StartAsync("a", "b");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = ServiceEntry(backends, "a", "b") });
        await using var provider = Build(cp);
        var resolver = provider.GetRequiredService<ServiceEndpointResolver>();

        var first = await resolver.GetEndpointsAsync("http://greeter", CancellationToken.None);
        Assert.Equal(
            new[] { $"127.0.0.1:{backends.Ports["a"]}", $"127.0.0.1:{backends.Ports["b"]}" }.Order(StringComparer.Ordinal).ToArray(),
            first.Endpoints.Select(e => e.EndPoint.ToString()!.Replace("Unspecified/", string.Empty, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray());

        var fired = new TaskCompletionSource();
        using var registration = first.ChangeToken.RegisterChangeCallback(_ => fired.TrySetResult(), null);
        await cp.WriteFileAsync("se.yaml", ServiceEntry(backends, "a"));
        await fired.Task.WaitAsync(TimeSpan.FromSeconds(10)); // pushed, not the 60 s poll

        var second = await resolver.GetEndpointsAsync("http://greeter", CancellationToken.None);
        Assert.Single(second.Endpoints);
    }

    [Fact]
    public async Task ServiceDiscoveryHandler_SendsToAnXdsEndpoint()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = ServiceEntry(backends, "a") });
        await using var provider = Build(cp, s => s.AddHttpClient("sd", c => c.BaseAddress = new Uri("http://greeter.default.svc.cluster.local:9080")).AddServiceDiscovery());

        var text = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("sd").GetStringAsync("/hello");

        Assert.StartsWith("a ", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Policies_Retries_ApplyToHttpClientCalls()
    {
        await using var backends = await RestBackends.StartAsync("a", "b");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, "a", "b"),
            ["vs.yaml"] = MeshYaml.VirtualService("    retries: {attempts: 3, retryOn: 5xx}"),
        });
        await using var provider = Build(cp);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        var ok = 0;
        for (var i = 0; i < 400; i++)
        {
            using var response = await client.GetAsync("/flaky");
            ok += response.IsSuccessStatusCode ? 1 : 0;
        }

        // Each try fails with probability 1/2 and there are 4 tries: expect 1 - 1/16 of calls to succeed.
        Assert.InRange(ok, 350, 400);
        Assert.True(backends.Calls.Values.Sum() > 500, "failed tries must have been retried");
    }

    [Fact]
    public async Task Policies_RouteTimeout_AnswersGatewayTimeout()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, "a"),
            ["vs.yaml"] = MeshYaml.VirtualService("    timeout: 100ms"),
        });
        await using var provider = Build(cp);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");
        (await client.GetAsync("/hello")).Dispose(); // warm-up: the first configuration and a connection are not timed

        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await client.GetAsync("/slow");

        Assert.Equal(System.Net.HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.InRange(watch.ElapsedMilliseconds, 90, 450);
    }

    [Fact]
    public async Task Policies_FaultAbort_NeverReachesServer()
    {
        await using var backends = await RestBackends.StartAsync("a");
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, "a"),
            ["vs.yaml"] = MeshYaml.VirtualService("    fault: {abort: {percentage: {value: 100}, httpStatus: 503}}"),
        });
        await using var provider = Build(cp);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");

        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("/hello");
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        Assert.Equal(0, backends.Calls.Values.Sum());
    }

    [Fact]
    public async Task Policies_OutlierDetection_EjectsFailingEndpointForHttpClientCalls()
    {
        await using var backends = await RestBackends.StartAsync("good", "bad");
        const string outlier = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: greeter}
            spec:
              host: greeter
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}
            """;
        await using var cp = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["se.yaml"] = ServiceEntry(backends, "good", "bad"),
            ["dr.yaml"] = outlier,
        });
        await using var provider = Build(cp);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesh");
        backends.Failing["bad"] = true;

        var failures = 0;
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("/hello");
            failures += response.IsSuccessStatusCode ? 0 : 1;
        }

        Assert.Equal(2, failures); // two consecutive 503s from "bad", then it is ejected
        backends.Calls.Clear();
        for (var i = 0; i < 100; i++)
        {
            using var response = await client.GetAsync("/hello");
            Assert.True(response.IsSuccessStatusCode);
        }

        Assert.Equal(0, backends.Calls.GetValueOrDefault("bad"));
    }
}
