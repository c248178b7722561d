using System.Net;
using Grpc.Core;
using Mesh.Gateway.Configuration;
using Mesh.Gateway.Tests.Greeting;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Gateway.Tests;

/// <summary>
/// A mesh on loopback for the gateway tests: plain Kestrel backends (HTTP and gRPC) that answer with their name and
/// what they received, a real control plane serving the test's YAML, and a Mesh gateway whose bootstrap carries
/// <c>istio: ingressgateway</c>. Everything stops and every temporary file is deleted on dispose.
/// </summary>
internal sealed class GatewayMesh : IAsyncDisposable
{
    private readonly List<WebApplication> _apps = [];

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("mesh-gateway-").FullName;

    public TestControlPlane? ControlPlane { get; private set; }

    public WebApplication? Gateway { get; private set; }

    public InMemoryLogSink GatewayLogs { get; } = new();

    /// <summary>Starts an HTTP backend answering <c>name path?query host=… </c> for every request; returns its port.</summary>
    public async Task<int> StartBackendAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1AndHttp2));
        var app = builder.Build();
        app.Run(context => context.Response.WriteAsync($"{name} {context.Request.Path}{context.Request.QueryString} host={context.Request.Host}"));
        return await StartAsync(app);
    }

    /// <summary>Starts a gRPC backend (plaintext HTTP/2) serving Greeter; returns its port.</summary>
    public async Task<int> StartGrpcBackendAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new GreeterService(name));
        var app = builder.Build();
        app.MapGrpcService<GreeterService>();
        return await StartAsync(app);
    }

    /// <summary>
    /// Starts a mesh server (AddMeshServer: PeerAuthentication, mTLS with a certificate from the control plane's CA) for
    /// the service account <paramref name="serviceAccount"/> in <c>default</c>, answering <c>/whoami</c> with the caller's
    /// SPIFFE ID; returns its port.
    /// </summary>
    public async Task<int> StartMeshBackendAsync(string serviceAccount)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddMesh(o => o.BootstrapJson = MeshBootstrap($"{serviceAccount}-1.default", "default", serviceAccount, $$"""{"app": "{{serviceAccount}}"}""", server: true));
        builder.Services.AddMeshServer();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1AndHttp2));
        var app = builder.Build();
        app.MapGet("/whoami", (HttpContext context) => context.Features.Get<Mesh.Server.IMeshPeerIdentityFeature>()?.PeerIdentity?.ToString() ?? "(plaintext)");
        return await StartAsync(app);
    }

    /// <summary>
    /// A bootstrap with a workload certificate from the control plane's CA (the <c>mesh_ca</c> provider, proven with a join
    /// token for <paramref name="serviceAccount"/> in <paramref name="ns"/>).
    /// </summary>
    public string MeshBootstrap(string nodeId, string ns, string serviceAccount, string labels, bool server)
    {
        var root = Path.Combine(Directory, "mesh-root.pem");
        File.WriteAllText(root, ControlPlane!.RootCertificatePem);
        var token = ControlPlane.CreateToken(ns, serviceAccount);
        var template = server ? ", \"server_listener_resource_name_template\": \"grpc/server?xds.resource.listening_address=%s\"" : string.Empty;
        return $$$"""
            {
              "xds_servers": [{"server_uri": "{{{ControlPlane.XdsAddress.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
              "node": {"id": "{{{nodeId}}}", "metadata": {"NAMESPACE": "{{{ns}}}", "SERVICE_ACCOUNT": "{{{serviceAccount}}}", "LABELS": {{{labels}}} } },
              "certificate_providers": {
                "default": {"plugin_name": "mesh_ca", "config": {
                  "server_uri": "{{{ControlPlane.TlsAddress.GetLeftPart(UriPartial.Authority)}}}",
                  "ca_certificate_file": "{{{root}}}",
                  "token": "{{{token}}}",
                  "certificate_lifetime": "24h"} }
              }{{{template}}}
            }
            """;
    }

    /// <summary>Starts the control plane on <paramref name="files"/>.</summary>
    public async Task StartControlPlaneAsync(Dictionary<string, string> files) => ControlPlane = await TestControlPlane.StartAsync(files);

    /// <summary>Starts the gateway serving <paramref name="serverPorts"/>, each on 127.0.0.1 with a port the system picks.</summary>
    public Task StartGatewayAsync(params int[] serverPorts) => StartGatewayAsync(Bootstrap(ControlPlane!.XdsAddress), serverPorts);

    /// <summary>Starts the gateway with <paramref name="bootstrap"/>, serving <paramref name="serverPorts"/>.</summary>
    public async Task StartGatewayAsync(string bootstrap, params int[] serverPorts)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(GatewayLogs);
        builder.Services.AddMesh(o => o.BootstrapJson = bootstrap);
        builder.Services.AddMeshGateway(o =>
        {
            foreach (var port in serverPorts)
            {
                o.Listeners[port] = new IPEndPoint(IPAddress.Loopback, 0);
            }
        });
        var app = builder.Build();
        app.UseMeshGateway();
        await app.StartAsync();
        _apps.Add(app);
        Gateway = app;
    }

    /// <summary>The port the gateway's server port <paramref name="serverPort"/> is bound to.</summary>
    public int PortOf(int serverPort) => Gateway!.Services.GetRequiredService<GatewayXdsConfiguration>().Ports[serverPort].ListenOptions!.IPEndPoint!.Port;

    /// <summary>The gateway's URL for <paramref name="serverPort"/> and <paramref name="path"/>.</summary>
    public Uri Url(int serverPort, string path, string scheme = "http") => new($"{scheme}://127.0.0.1:{PortOf(serverPort)}{path}");

    /// <summary>A bootstrap for the gateway workload: labels <c>istio: ingressgateway</c>, namespace istio-system.</summary>
    public static string Bootstrap(Uri xds) => $$$"""
        {
          "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
          "node": {"id": "istio-ingressgateway-{{{Guid.NewGuid():N}}}.istio-system", "metadata": {"NAMESPACE": "istio-system", "LABELS": {"istio": "ingressgateway", "app": "istio-ingressgateway"} } }
        }
        """;

    /// <summary>A ServiceEntry for <paramref name="name"/> (default namespace) on port 9080 with one endpoint per (port, version).</summary>
    public static string ServiceEntry(string name, string protocol, params (int Port, string Version)[] endpoints)
    {
        var lines = string.Join("\n", endpoints.Select(e => $"  - {{address: 127.0.0.1, ports: {{main: {e.Port}}}, labels: {{app: {name}, version: {e.Version}}}}}"));
        return $$$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: {{{name}}}, namespace: default}
            spec:
              hosts: [{{{name}}}.default.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: main, protocol: {{{protocol}}}}]
              endpoints:
            {{{lines}}}
            """;
    }

    /// <summary>GETs <paramref name="url"/> until it answers <paramref name="status"/> (20 s at most); returns the last response body.</summary>
    public static async Task<string> WaitForStatusAsync(HttpClient client, Uri url, HttpStatusCode status = HttpStatusCode.OK)
    {
        var last = "(no response)";
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            try
            {
                using var response = await client.GetAsync(url);
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                if (response.StatusCode == status)
                {
                    return await response.Content.ReadAsStringAsync();
                }
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
        }

        throw new TimeoutException($"{url} did not answer {(int)status} within 20 s; last: {last}");
    }

    private async Task<int> StartAsync(WebApplication app)
    {
        await app.StartAsync();
        _apps.Add(app);
        return new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in Enumerable.Reverse(_apps))
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        if (ControlPlane is not null)
        {
            await ControlPlane.DisposeAsync();
        }

        GatewayLogs.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private sealed class GreeterService(string name) : Greeter.GreeterBase
    {
        public override Task<GreetReply> Greet(GreetRequest request, ServerCallContext context) =>
            Task.FromResult(new GreetReply { Message = "hello " + request.Name, ServedBy = name });
    }
}
