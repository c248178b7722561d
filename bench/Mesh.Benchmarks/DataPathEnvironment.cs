using System.Globalization;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Bench;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Benchmarks;

/// <summary>
/// Everything the data-path benchmarks call through, in one process: the loopback <see cref="BenchBackend"/>, a real
/// control plane serving a YAML directory that points three services at it, and one client per path.
/// <list type="bullet">
/// <item><c>greeter</c>: a plain service (one route, no policies).</item>
/// <item><c>greeter-policies</c>: 100 routes with header matches (the call matches the last one), retries, an abort
/// fault at 0 % and outlier detection; <c>greeter-routes</c> has only the routes, <c>greeter-retry</c> only the
/// policies (one route), to tell the two costs apart.</item>
/// <item><c>greeter-http</c>: the HTTP/1.1 port, for the HttpClient path.</item>
/// </list>
/// </summary>
public sealed class DataPathEnvironment : IAsyncDisposable
{
    /// <summary>Messages per server-streaming call.</summary>
    public const int StreamMessages = 10;

    /// <summary>Routes in the policy service's route table.</summary>
    public const int PolicyRoutes = 100;

    private readonly List<IDisposable> _disposables = [];

    private DataPathEnvironment(BenchBackend backend, TestControlPlane controlPlane, ServiceProvider services)
    {
        Backend = backend;
        ControlPlane = controlPlane;
        Services = services;
    }

    public BenchBackend Backend { get; }

    public TestControlPlane ControlPlane { get; }

    public ServiceProvider Services { get; }

    /// <summary>The same header on every gRPC call, so each path carries the same bytes; it matches none of the 99 header routes.</summary>
    public Metadata Headers { get; } = new() { { "x-route", "none" } };

    public HelloRequest Request { get; } = new() { Name = "bench" };

    public HelloRequest StreamRequest { get; } = new() { Name = "bench", Count = StreamMessages };

    /// <summary>GrpcChannel to http://127.0.0.1:PORT: the physical limit.</summary>
    public Greeter.GreeterClient Plain { get; private set; } = null!;

    /// <summary>An xds:/// channel (resolver + balancer) without the policy interceptor.</summary>
    public Greeter.GreeterClient MeshChannel { get; private set; } = null!;

    /// <summary>An xds:/// channel with the Mesh call invoker (routing, faults, retries, outlier reporting): what AddGrpcClient gives.</summary>
    public Greeter.GreeterClient Mesh { get; private set; } = null!;

    /// <summary>As <see cref="Mesh"/>, to the service with 100 routes and every policy.</summary>
    public Greeter.GreeterClient MeshPolicies { get; private set; } = null!;

    /// <summary>As <see cref="Mesh"/>, to a service with the same 100 routes and no policies (the route table's share).</summary>
    public Greeter.GreeterClient MeshRoutes { get; private set; } = null!;

    /// <summary>As <see cref="Mesh"/>, to a service with one route and every policy (the policies' share).</summary>
    public Greeter.GreeterClient MeshRetry { get; private set; } = null!;

    /// <summary>HttpClient from IHttpClientFactory to http://127.0.0.1:PORT.</summary>
    public HttpClient PlainHttp { get; private set; } = null!;

    /// <summary>HttpClient from IHttpClientFactory with AddMeshRouting(), to http://greeter-http:9080.</summary>
    public HttpClient MeshHttp { get; private set; } = null!;

    public static async Task<DataPathEnvironment> StartAsync()
    {
        var backend = await BenchBackend.StartAsync().ConfigureAwait(false);
        var controlPlane = await TestControlPlane.StartAsync(new Dictionary<string, string>
        {
            ["greeter.yaml"] = ServiceEntry("greeter", "grpc", "GRPC", backend.GrpcPort),
            ["greeter-http.yaml"] = ServiceEntry("greeter-http", "http", "HTTP", backend.HttpPort),
            ["greeter-policies.yaml"] = ServiceEntry("greeter-policies", "grpc", "GRPC", backend.GrpcPort) + "\n---\n" + PolicyVirtualService("greeter-policies", PolicyRoutes, policies: true) + "\n---\n" + OutlierRule("greeter-policies"),
            ["greeter-routes.yaml"] = ServiceEntry("greeter-routes", "grpc", "GRPC", backend.GrpcPort) + "\n---\n" + PolicyVirtualService("greeter-routes", PolicyRoutes, policies: false),
            ["greeter-retry.yaml"] = ServiceEntry("greeter-retry", "grpc", "GRPC", backend.GrpcPort) + "\n---\n" + PolicyVirtualService("greeter-retry", 1, policies: true) + "\n---\n" + OutlierRule("greeter-retry"),
        }).ConfigureAwait(false);

        var collection = new ServiceCollection().AddLogging();
        collection.AddMesh(o => o.BootstrapJson = Bootstrap(controlPlane.XdsAddress));
        collection.AddHttpClient("plain", c => c.BaseAddress = new Uri($"http://127.0.0.1:{backend.HttpPort}"));
        collection.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://greeter-http:9080")).AddMeshRouting();
        var services = collection.BuildServiceProvider();
        var environment = new DataPathEnvironment(backend, controlPlane, services);

        var plain = GrpcChannel.ForAddress($"http://127.0.0.1:{backend.GrpcPort}");
        var mesh = GrpcChannel.ForAddress("xds:///greeter:9080", new GrpcChannelOptions { ServiceProvider = services, Credentials = ChannelCredentials.Insecure });
        var policies = GrpcChannel.ForAddress("xds:///greeter-policies:9080", new GrpcChannelOptions { ServiceProvider = services, Credentials = ChannelCredentials.Insecure });
        var routes = GrpcChannel.ForAddress("xds:///greeter-routes:9080", new GrpcChannelOptions { ServiceProvider = services, Credentials = ChannelCredentials.Insecure });
        var retry = GrpcChannel.ForAddress("xds:///greeter-retry:9080", new GrpcChannelOptions { ServiceProvider = services, Credentials = ChannelCredentials.Insecure });
        environment._disposables.AddRange([plain, mesh, policies, routes, retry]);
        environment.MeshRoutes = new Greeter.GreeterClient(routes.CreateMeshCallInvoker(services, "xds:///greeter-routes:9080"));
        environment.MeshRetry = new Greeter.GreeterClient(retry.CreateMeshCallInvoker(services, "xds:///greeter-retry:9080"));
        environment.Plain = new Greeter.GreeterClient(plain);
        environment.MeshChannel = new Greeter.GreeterClient(mesh);
        environment.Mesh = new Greeter.GreeterClient(mesh.CreateMeshCallInvoker(services, "xds:///greeter:9080"));
        environment.MeshPolicies = new Greeter.GreeterClient(policies.CreateMeshCallInvoker(services, "xds:///greeter-policies:9080"));
        var factory = services.GetRequiredService<IHttpClientFactory>();
        environment.PlainHttp = factory.CreateClient("plain");
        environment.MeshHttp = factory.CreateClient("mesh");

        foreach (var client in new[] { environment.Plain, environment.MeshChannel, environment.Mesh, environment.MeshPolicies, environment.MeshRoutes, environment.MeshRetry })
        {
            await client.SayHelloAsync(environment.Request, environment.Headers, DateTime.UtcNow.AddSeconds(30)).ResponseAsync.ConfigureAwait(false);
        }

        await WarmHttpAsync(environment.PlainHttp).ConfigureAwait(false);
        await WarmHttpAsync(environment.MeshHttp).ConfigureAwait(false);
        return environment;
    }

    public async Task UnaryAsync(Greeter.GreeterClient client)
    {
        using var call = client.SayHelloAsync(Request, Headers);
        await call.ResponseAsync.ConfigureAwait(false);
    }

    public async Task StreamAsync(Greeter.GreeterClient client)
    {
        using var call = client.SayHellos(StreamRequest, Headers);
        var count = 0;
        while (await call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false))
        {
            count++;
        }

        if (count != StreamMessages)
        {
            throw new InvalidOperationException($"expected {StreamMessages} messages, got {count}");
        }
    }

    public static async Task GetAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/hello", UriKind.Relative), HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }

        await Services.DisposeAsync().ConfigureAwait(false);
        await ControlPlane.DisposeAsync().ConfigureAwait(false);
        await Backend.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task WarmHttpAsync(HttpClient client)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await GetAsync(client).ConfigureAwait(false);
                return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }
    }

    private static string ServiceEntry(string name, string portName, string protocol, int port) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: {{{name}}}}
        spec:
          hosts: [{{{name}}}.default.svc.cluster.local]
          resolution: STATIC
          ports:
          - {number: 9080, name: {{{portName}}}, protocol: {{{protocol}}}}
          endpoints:
          - {address: 127.0.0.1, ports: {{{{portName}}}: {{{port}}}}}
        """;

    /// <summary>
    /// <paramref name="count"/> routes: all but the last match x-route: r0, r1, … exactly, the last is a catch-all (the
    /// benchmark's calls match it, after every header match failed); with <paramref name="policies"/>, each has retries and
    /// a 0 % abort fault.
    /// </summary>
    private static string PolicyVirtualService(string host, int count, bool policies)
    {
        var yaml = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $$"""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: {{host}}}
            spec:
              hosts: [{{host}}]
              http:

            """));
        for (var i = 0; i < count; i++)
        {
            if (i < count - 1)
            {
                yaml.Append(CultureInfo.InvariantCulture, $"  - match: [{{headers: {{x-route: {{exact: r{i}}}}}}}]\n");
                yaml.Append(CultureInfo.InvariantCulture, $"    route: [{{destination: {{host: {host}}}}}]\n");
            }
            else
            {
                yaml.Append(CultureInfo.InvariantCulture, $"  - route: [{{destination: {{host: {host}}}}}]\n");
            }

            if (policies)
            {
                yaml.Append("    retries: {attempts: 3, retryOn: unavailable}\n");
                yaml.Append("    timeout: 30s\n");
                yaml.Append("    fault: {abort: {percentage: {value: 0}, grpcStatus: UNAVAILABLE}}\n");
            }
        }

        return yaml.ToString();
    }

    private static string OutlierRule(string host) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: {{{host}}}}
        spec:
          host: {{{host}}}
          trafficPolicy:
            outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
        """;

    private static string Bootstrap(Uri xds) => $$$"""
        {
          "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
          "node": {"id": "mesh-bench", "cluster": "bench", "metadata": {"NAMESPACE": "default"}}
        }
        """;
}
