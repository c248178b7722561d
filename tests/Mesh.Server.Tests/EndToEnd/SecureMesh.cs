using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Server.Tests.Reviews;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Server.Tests.EndToEnd;

/// <summary>
/// A whole mesh on loopback for the security tests: a control plane with its CA, servers made with
/// <c>AddMeshServer()</c> that get their certificates from it with join tokens, and mesh clients with their own
/// identities. Every server, client and temporary file is released on dispose.
/// </summary>
internal sealed class SecureMesh : IAsyncDisposable
{
    private static readonly string[] TraceHeaderNames = ["traceparent", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-request-id"];

    private readonly List<WebApplication> _servers = [];
    private readonly List<ServiceProvider> _clients = [];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "mesh-secure-" + Guid.NewGuid().ToString("N"));

    private SecureMesh(TestControlPlane controlPlane)
    {
        ControlPlane = controlPlane;
        Directory.CreateDirectory(_directory);
        RootFile = Path.Combine(_directory, "root.pem");
        File.WriteAllText(RootFile, controlPlane.RootCertificatePem);
    }

    public TestControlPlane ControlPlane { get; }

    public string RootFile { get; }

    public InMemoryLogSink ServerLogs { get; } = new();

    public static async Task<SecureMesh> StartAsync(params (string Name, string Yaml)[] files) =>
        new(await TestControlPlane.StartAsync(files.ToDictionary(f => f.Name, f => f.Yaml)));

    /// <summary>A bootstrap for a workload with the given identity, labels and certificate lifetime.</summary>
    public string Bootstrap(string serviceAccount, string app, TimeSpan? lifetime = null, string? clusterId = null)
    {
        var cluster = clusterId is null ? string.Empty : $", \"CLUSTER_ID\": \"{clusterId}\"";
        var token = ControlPlane.CreateToken("default", serviceAccount);
        var certificateLifetime = lifetime is { } l ? $"{(int)l.TotalSeconds}s" : "24h";
        return $$$"""
            {
              "xds_servers": [{"server_uri": "{{{ControlPlane.XdsAddress.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
              "node": {"id": "{{{serviceAccount}}}-{{{Guid.NewGuid():N}}}", "cluster": "test", "metadata": {"NAMESPACE": "default", "LABELS": {"app": "{{{app}}}"}{{{cluster}}} } },
              "certificate_providers": {
                "default": {"plugin_name": "mesh_ca", "config": {
                  "server_uri": "{{{ControlPlane.TlsAddress.GetLeftPart(UriPartial.Authority)}}}",
                  "ca_certificate_file": "{{{RootFile}}}",
                  "token": "{{{token}}}",
                  "certificate_lifetime": "{{{certificateLifetime}}}"}}
              },
              "server_listener_resource_name_template": "grpc/server?xds.resource.listening_address=%s"
            }
            """;
    }

    /// <summary>Starts a mesh server for <paramref name="serviceAccount"/> (labels app: <paramref name="app"/>) and returns its port.</summary>
    public async Task<int> StartServerAsync(string serviceAccount, string app, TimeSpan? lifetime = null, HttpProtocols protocols = HttpProtocols.Http2, string? clusterId = null, Action<WebApplicationBuilder>? configure = null, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(ServerLogs);
        builder.Services.AddMesh(o => o.BootstrapJson = Bootstrap(serviceAccount, app, lifetime, clusterId));
        builder.Services.AddMeshServer();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = protocols));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new ServerName(serviceAccount));
        configure?.Invoke(builder);
        var server = builder.Build();
        map?.Invoke(server);
        server.MapGrpcService<ReviewsService>();
        server.MapGrpcService<AdminService>();
        server.MapGet("/whoami", (HttpContext context) =>
            context.Features.Get<IMeshPeerIdentityFeature>()?.PeerIdentity?.ToString() ?? "(plaintext)");

        // What the application sees of the metadata-exchange headers (the mesh strips them).
        server.MapGet("/peer-headers", (HttpContext context) =>
            context.Request.Headers["x-envoy-peer-metadata"].ToString() + "|" + context.Request.Headers["x-envoy-peer-metadata-id"].ToString());

        // The trace context headers the request carried.
        server.MapGet("/trace-headers", (HttpContext context) => string.Join(
            "\n",
            TraceHeaderNames.Select(h => h + "=" + context.Request.Headers[h].ToString())));

        // Every other request fails with 503: the first attempt of a retried call.
        var flaky = 0;
        server.MapGet("/flaky", () => Interlocked.Increment(ref flaky) % 2 == 1 ? Results.StatusCode(503) : Results.Text("ok"));
        await server.StartAsync();
        _servers.Add(server);
        return new Uri(server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
    }

    /// <summary>
    /// A workload certificate (with its key) for <paramref name="serviceAccount"/> in <c>default</c>, issued by the
    /// control plane's CA as it signs a workload's CSR: for parties that are not Mesh workloads (an emulated sidecar).
    /// </summary>
    public X509Certificate2 Issue(string serviceAccount)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var identity = new SpiffeId("cluster.local", "default", serviceAccount);
        var request = new CertificateRequest(new X500DistinguishedName(string.Empty), key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(identity.ToUri());
        request.CertificateExtensions.Add(names.Build(critical: true));
        var chain = ControlPlane.CertificateAuthority.Sign(request.CreateSigningRequestPem(), identity, TimeSpan.FromHours(1));
        using var leaf = X509Certificate2.CreateFromPem(chain[0]);
        using var withKey = leaf.CopyWithPrivateKey(key);

        // Through PKCS#12 so that the key is usable by TLS on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A mesh client running as <paramref name="serviceAccount"/>, with a Reviews client for <c>xds:///reviews:9080</c>.</summary>
    public ServiceProvider Client(string serviceAccount, TimeSpan? lifetime = null, string? clusterId = null, Action<Mesh.Client.MeshClientOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMesh(o =>
        {
            o.BootstrapJson = Bootstrap(serviceAccount, serviceAccount, lifetime, clusterId);
            configure?.Invoke(o);
        });
        services.AddGrpcClient<Reviews.Reviews.ReviewsClient>(o => o.Address = new Uri("xds:///reviews:9080"));
        services.AddGrpcClient<Admin.AdminClient>(o => o.Address = new Uri("xds:///reviews:9080"));
        services.AddHttpClient("reviews").AddMeshRouting();
        var provider = services.BuildServiceProvider();
        _clients.Add(provider);
        return provider;
    }

    /// <summary>A ServiceEntry for reviews:9080 whose one endpoint is the server on <paramref name="port"/>, running as <paramref name="serviceAccount"/>.</summary>
    public static string ReviewsEntry(int port, string serviceAccount = "reviews") => $$$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 9080, name: grpc, protocol: GRPC}
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: {{{port}}}}, labels: {app: reviews}, serviceAccount: {{{serviceAccount}}}}
        """;

    public static string PeerAuthentication(string mode) => $$$"""
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          mtls: {mode: {{{mode}}}}
        """;

    /// <summary>Calls GetReviews until it succeeds or <paramref name="timeout"/> passes; returns the reply or the last error.</summary>
    public static async Task<(ReviewsReply? Reply, RpcException? Error)> CallAsync(Reviews.Reviews.ReviewsClient client, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        RpcException? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                return (await client.GetReviewsAsync(new ReviewsRequest { Product = "0" }, deadline: DateTime.UtcNow.AddSeconds(5)), null);
            }
            catch (RpcException ex)
            {
                last = ex;
                await Task.Delay(100);
            }
        }

        return (null, last);
    }

    /// <summary>Waits until the client's call ends with <paramref name="expected"/> (policy changes travel through xDS).</summary>
    public static async Task<RpcException?> WaitForStatusAsync(Func<Task> call, StatusCode expected, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        RpcException? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                await call();
                last = null;
                if (expected == StatusCode.OK)
                {
                    return null;
                }
            }
            catch (RpcException ex)
            {
                last = ex;
                if (ex.StatusCode == expected)
                {
                    return ex;
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the call did not end with {expected} in time; last: {last?.Status.ToString() ?? "OK"}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        foreach (var server in _servers)
        {
            await server.StopAsync();
            await server.DisposeAsync();
        }

        await ControlPlane.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed record ServerName(string Name);

    private sealed class ReviewsService(ServerName name) : Reviews.Reviews.ReviewsBase
    {
        public override Task<ReviewsReply> GetReviews(ReviewsRequest request, ServerCallContext context)
        {
            var http = context.GetHttpContext();
            return Task.FromResult(new ReviewsReply
            {
                Server = name.Name,
                Peer = http.Features.Get<IMeshPeerIdentityFeature>()?.PeerIdentity?.ToString() ?? string.Empty,
                User = http.User.FindFirst(MeshServerDefaults.SpiffeIdClaimType)?.Value ?? string.Empty,
            });
        }
    }

    private sealed class AdminService(ServerName name) : Admin.AdminBase
    {
        public override Task<ReviewsReply> Ping(ReviewsRequest request, ServerCallContext context) =>
            Task.FromResult(new ReviewsReply { Server = name.Name });
    }
}

/// <summary>A gRPC channel straight to a port, outside the mesh.</summary>
internal static class DirectChannel
{
    public static GrpcChannel Plaintext(int port) => GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
}
