using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Client.Transport;
using Mesh.Server.Tests.Reviews;
using Mesh.Testing;
using Mesh.Testing.Sidecar;
using Mesh.Xds;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Server.Tests.EndToEnd;

/// <summary>
/// Mixed mode at the TLS level (issue 15): Mesh.Client against a server that does what an Envoy sidecar's generated
/// inbound listener says (filter chain chosen by Envoy's rules from the ClientHello's ALPN, then the chain's
/// <c>DownstreamTlsContext</c>), and a client that does what an Envoy sidecar's generated <c>UpstreamTlsContext</c>
/// says against Mesh.Server. The Envoy configuration is what the control plane serves an Envoy node over ADS.
/// </summary>
public sealed class MixedModeTlsTests
{
    private const string ClientIdentity = "spiffe://cluster.local/ns/default/sa/productpage";
    private const string ServerIdentity = "spiffe://cluster.local/ns/default/sa/reviews";
    private const string ReviewsCluster = "outbound|9080||reviews.default.svc.cluster.local";

    private const string IstioMutual = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
        """;

    /// <summary>reviews:9080 with one endpoint on <paramref name="port"/> that an injected sidecar serves (<c>tlsMode: istio</c>).</summary>
    private static string SidecarReviewsEntry(int port) => $$"""
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
          - {address: 127.0.0.1, ports: {grpc: {{port}}}, labels: {app: reviews, security.istio.io/tlsMode: istio}, serviceAccount: reviews}
        """;

    [Theory]
    [InlineData("STRICT")]
    [InlineData("PERMISSIVE")]
    public async Task MeshClient_ToEnvoyInboundChain_SucceedsWithMtlsAndBothSeeTheExpectedSpiffeIds(string mode)
    {
        await using var mesh = await SecureMesh.StartAsync();
        await using var envoy = await EmulatedEnvoyServer.StartAsync(mesh);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", string.Join("\n---\n", SidecarReviewsEntry(envoy.Port), SecureMesh.PeerAuthentication(mode), IstioMutual));
        await envoy.LoadInboundListenerAsync(mode);

        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (reply, error) = await SecureMesh.CallAsync(client, TimeSpan.FromSeconds(15));
        Assert.True(error is null, error?.Status + " / " + string.Join("; ", envoy.Rejections));

        // The sidecar chose its mTLS chain (by ALPN under PERMISSIVE), negotiated h2, and saw the client's identity.
        Assert.Equal("envoy-reviews", reply!.Server);
        Assert.Equal(ClientIdentity, reply.Peer);
        var connection = envoy.Connections.Last();
        Assert.Equal($"0.0.0.0_{envoy.Port}-mtls", connection.Chain);
        Assert.Contains("istio-peer-exchange", connection.OfferedAlpn);
        Assert.Contains("h2", connection.OfferedAlpn);
        Assert.Equal("h2", connection.NegotiatedAlpn);

        // And the client accepted the sidecar's certificate because it carries the identity the mesh expects for
        // reviews (see the next test for a sidecar under another identity).
        Assert.Equal(ServerIdentity, envoy.Identity);
    }

    [Fact]
    public async Task MeshClient_ToEnvoySidecarWithAnotherIdentity_RefusesIt()
    {
        await using var mesh = await SecureMesh.StartAsync();
        await using var envoy = await EmulatedEnvoyServer.StartAsync(mesh, serviceAccount: "ratings");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", string.Join("\n---\n", SidecarReviewsEntry(envoy.Port), SecureMesh.PeerAuthentication("STRICT"), IstioMutual));
        await envoy.LoadInboundListenerAsync("STRICT");

        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (reply, error) = await SecureMesh.CallAsync(client, TimeSpan.FromSeconds(5));
        Assert.Null(reply);
        Assert.Equal(StatusCode.Unavailable, error!.StatusCode);
        Assert.Contains("spiffe://cluster.local/ns/default/sa/ratings", error.Status.Detail + error.Status.DebugException, StringComparison.Ordinal);
    }

    [Fact]
    public async Task H2OnlyClient_ToEnvoyPermissiveChain_FindsNoMtlsChain()
    {
        // Istio's documented limitation that Mesh.Client's ALPN list removes: plain gRPC offers only h2, which the
        // PERMISSIVE mTLS chain does not match, and a TLS connection matches no other chain.
        await using var mesh = await SecureMesh.StartAsync();
        await using var envoy = await EmulatedEnvoyServer.StartAsync(mesh);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", string.Join("\n---\n", SidecarReviewsEntry(envoy.Port), SecureMesh.PeerAuthentication("PERMISSIVE")));
        await envoy.LoadInboundListenerAsync("PERMISSIVE");

        using var own = mesh.Issue("productpage");
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                ClientCertificates = [own],
                RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                    PeerCertificateValidator.TryValidate(certificate, chain, [X509Certificate2.CreateFromPem(mesh.ControlPlane.RootCertificatePem)], [], out _, out _),
            },
        };
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{envoy.Port}", new GrpcChannelOptions { HttpHandler = handler });
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            new Reviews.Reviews.ReviewsClient(channel).GetReviewsAsync(new ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync);
        Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        Assert.Contains(envoy.Rejections, r => r.Contains("NoFilterChain", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EnvoyConfiguredClient_ToMeshServerStrict_SucceedsAndBothSeeTheExpectedSpiffeIds()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));

        // The UpstreamTlsContext an Envoy sidecar (productpage's) is given for reviews' mTLS endpoints.
        var upstream = await EnvoyUpstreamTlsAsync(mesh, ReviewsCluster);
        Assert.Equal(["istio-peer-exchange", "istio", "h2"], upstream.CommonTlsContext.AlpnProtocols);
        var sans = upstream.CommonTlsContext.CombinedValidationContext.DefaultValidationContext.MatchTypedSubjectAltNames.Select(m => m.Matcher.Exact).ToArray();
        Assert.Equal([ServerIdentity], sans);

        using var own = mesh.Issue("productpage");
        var roots = new X509Certificate2Collection { X509Certificate2.CreateFromPem(mesh.ControlPlane.RootCertificatePem) };
        string? serverSeen = null;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                TargetHost = upstream.Sni,
                ApplicationProtocols = [.. upstream.CommonTlsContext.AlpnProtocols.Select(p => new SslApplicationProtocol(p))],
                ClientCertificates = [own],
                RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                {
                    // Envoy's checks: the chain to ROOTCA, then a URI SAN among match_typed_subject_alt_names.
                    var ok = PeerCertificateValidator.TryValidate(certificate, chain, roots, [], out var peer, out _);
                    serverSeen = peer?.ToString();
                    return ok && serverSeen is not null && sans.Contains(serverSeen);
                },
            },
        };
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions { HttpHandler = handler });
        ReviewsReply? reply = null;
        for (var i = 0; i < 50 && reply is null; i++)
        {
            try
            {
                reply = await new Reviews.Reviews.ReviewsClient(channel).GetReviewsAsync(new ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            }
            catch (RpcException) when (i < 49)
            {
                await Task.Delay(100); // the server's listener arrives over xDS
            }
        }

        Assert.Equal("reviews", reply!.Server);
        Assert.Equal(ClientIdentity, reply.Peer);
        Assert.Equal(ServerIdentity, serverSeen);
    }

    /// <summary>The mTLS <c>UpstreamTlsContext</c> of <paramref name="cluster"/> as served to an Envoy sidecar of productpage.</summary>
    private static async Task<UpstreamTlsContext> EnvoyUpstreamTlsAsync(SecureMesh mesh, string cluster)
    {
        await using var ads = new AdsTestClient(mesh.ControlPlane.XdsAddress, "sidecar~127.0.0.9~productpage-1.default~default.svc.cluster.local");
        ads.Node.Metadata.Fields["LABELS"] = Value.ForStruct(new Struct { Fields = { ["app"] = Value.ForString("productpage") } });
        var deadline = DateTime.UtcNow.AddSeconds(15);
        await ads.SendAsync(XdsTypeUrls.Cluster, []);
        while (true)
        {
            var response = await ads.ReceiveAsync(XdsTypeUrls.Cluster, timeout: deadline - DateTime.UtcNow);
            await ads.AckAsync(response, []);
            var found = response.Resources.Select(r => r.Unpack<Cluster>()).FirstOrDefault(c => c.Name == cluster);
            var socket = found?.TransportSocketMatches.FirstOrDefault(m => m.Match?.Fields.ContainsKey("tlsMode") == true)?.TransportSocket;
            if (socket is not null)
            {
                return socket.TypedConfig.Unpack<UpstreamTlsContext>();
            }
        }
    }

    /// <summary>A connection the emulated sidecar accepted: the chain it chose, the ALPN offered and negotiated.</summary>
    private sealed record AcceptedConnection(string Chain, string OfferedAlpn, string NegotiatedAlpn);

    /// <summary>
    /// A Kestrel server doing what an Envoy sidecar of reviews does with its generated <c>virtualInbound</c> listener:
    /// reads the ClientHello as <c>tls_inspector</c> does, selects the filter chain by Envoy's rules
    /// (<see cref="EnvoySimulator"/>), and terminates TLS with that chain's <c>DownstreamTlsContext</c> (its ALPN list,
    /// client-certificate requirement, validation against ROOTCA) using a workload certificate for reviews from the mesh CA.
    /// </summary>
    private sealed class EmulatedEnvoyServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly SecureMesh _mesh;
        private readonly X509Certificate2 _certificate;
        private readonly X509Certificate2Collection _roots;
        private volatile Listener? _inbound;

        private EmulatedEnvoyServer(WebApplication app, SecureMesh mesh, X509Certificate2 certificate)
        {
            _app = app;
            _mesh = mesh;
            _certificate = certificate;
            _roots = [X509Certificate2.CreateFromPem(mesh.ControlPlane.RootCertificatePem)];
        }

        public int Port { get; private set; }

        /// <summary>The identity in the sidecar's certificate.</summary>
        public string Identity => new SubjectAlternativeNames(_certificate).Uri;

        public ConcurrentQueue<AcceptedConnection> Connections => _app.Services.GetRequiredService<ConcurrentQueue<AcceptedConnection>>();

        public ConcurrentQueue<string> Rejections { get; } = new();

        public static async Task<EmulatedEnvoyServer> StartAsync(SecureMesh mesh, string serviceAccount = "reviews")
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(new ConcurrentQueue<AcceptedConnection>());
            EmulatedEnvoyServer? server = null;
            builder.WebHost.ConfigureKestrel(k =>
            {
                // Mesh.Client keeps the http scheme on connections it secures itself; Envoy does not check :scheme.
                k.AllowAlternateSchemes = true;
                k.Listen(IPAddress.Loopback, 0, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    listen.Use(next => context => server!.InspectAsync(context, next));
                    listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = c => ValueTask.FromResult(server!.TlsOptions(c.Connection)) });
                });
            });
            var app = builder.Build();
            app.MapGrpcService<SidecarReviews>();
            server = new EmulatedEnvoyServer(app, mesh, mesh.Issue(serviceAccount));
            await app.StartAsync();
            server.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            return server;
        }

        /// <summary>Fetches the sidecar's <c>virtualInbound</c> listener over ADS as an Envoy node, once it has <paramref name="mode"/>'s chains for the port.</summary>
        public async Task LoadInboundListenerAsync(string mode)
        {
            await using var ads = new AdsTestClient(_mesh.ControlPlane.XdsAddress, "sidecar~127.0.0.1~reviews-1.default~default.svc.cluster.local");
            ads.Node.Metadata.Fields["LABELS"] = Value.ForStruct(new Struct { Fields = { ["app"] = Value.ForString("reviews") } });
            var deadline = DateTime.UtcNow.AddSeconds(15);
            await ads.SendAsync(XdsTypeUrls.Listener, []);
            while (true)
            {
                var response = await ads.ReceiveAsync(XdsTypeUrls.Listener, timeout: deadline - DateTime.UtcNow);
                await ads.AckAsync(response, []);
                var inbound = response.Resources.Select(r => r.Unpack<Listener>()).FirstOrDefault(l => l.Name == "virtualInbound");
                var chains = inbound?.FilterChains.Where(c => c.FilterChainMatch?.DestinationPort == (uint)Port).ToList() ?? [];
                var expected = mode == "STRICT" ? 1 : 2; // STRICT: mTLS only; PERMISSIVE (HTTP): mTLS by ALPN, then plaintext
                if (chains.Count == expected && chains.Any(c => c.Name.EndsWith("-mtls", StringComparison.Ordinal)))
                {
                    _inbound = inbound;
                    return;
                }
            }
        }

        private async Task InspectAsync(ConnectionContext context, ConnectionDelegate next)
        {
            // tls_inspector: look at the ClientHello without consuming it.
            TlsClientHello? hello;
            while (true)
            {
                var read = await context.Transport.Input.ReadAsync();
                hello = TlsClientHello.TryParse(read.Buffer, out var needMore);
                context.Transport.Input.AdvanceTo(read.Buffer.Start, needMore && !read.IsCompleted ? read.Buffer.End : read.Buffer.Start);
                if (!needMore || read.IsCompleted)
                {
                    break;
                }
            }

            var listener = _inbound;
            if (listener is null)
            {
                Rejections.Enqueue("no listener loaded");
                context.Abort();
                return;
            }

            var simulator = new EnvoySimulator([listener], [], [], []);
            var result = simulator.Run(new SimulatedCall
            {
                Inbound = true,
                Port = Port,
                DestinationIp = "127.0.0.1",
                Tls = hello is not null,
                Alpn = hello?.ApplicationProtocols ?? [],
                Sni = hello?.ServerName,
                ClientCertificate = true,
            });
            var chain = listener.FilterChains.FirstOrDefault(c => c.Name == result.FilterChain);
            if (result.Outcome is SimulationOutcome.NoFilterChain or SimulationOutcome.MultipleFilterChains or SimulationOutcome.TlsMismatch
                || chain?.TransportSocket is null)
            {
                Rejections.Enqueue($"{result.Outcome} for ALPN [{string.Join(", ", hello?.ApplicationProtocols ?? [])}]");
                context.Abort();
                return;
            }

            context.Items["chain"] = chain;
            context.Items["alpn"] = string.Join(",", hello!.ApplicationProtocols);
            await next(context);
        }

        private SslServerAuthenticationOptions TlsOptions(ConnectionContext connection)
        {
            var chain = (FilterChain)connection.Items["chain"]!;
            var downstream = chain.TransportSocket.TypedConfig.Unpack<DownstreamTlsContext>();
            return new SslServerAuthenticationOptions
            {
                ServerCertificate = _certificate,
                ClientCertificateRequired = downstream.RequireClientCertificate == true,
                ApplicationProtocols = [.. downstream.CommonTlsContext.AlpnProtocols.Select(p => new SslApplicationProtocol(p))],
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, x509, _) =>
                {
                    if (!PeerCertificateValidator.TryValidate(certificate, x509, _roots, [], out _, out var failure))
                    {
                        Rejections.Enqueue("client certificate: " + failure);
                        return false;
                    }

                    return true;
                },
            };
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _certificate.Dispose();
        }
    }

    /// <summary>The SPIFFE ID (URI SAN) of a certificate.</summary>
    private sealed class SubjectAlternativeNames(X509Certificate2 certificate)
    {
        public string Uri => SpiffeId.TryFromCertificate(certificate, out var id) ? id.ToString() : string.Empty;
    }

    /// <summary>
    /// The service behind the emulated sidecar: records the connection (chain, ALPN offered and negotiated) and answers
    /// with the client identity the sidecar saw.
    /// </summary>
    private sealed class SidecarReviews(ConcurrentQueue<AcceptedConnection> connections) : Reviews.Reviews.ReviewsBase
    {
        public override Task<ReviewsReply> GetReviews(ReviewsRequest request, ServerCallContext context)
        {
            var http = context.GetHttpContext();
            var items = http.Features.Get<IConnectionItemsFeature>()!.Items;
            var negotiated = http.Features.Get<ITlsApplicationProtocolFeature>()?.ApplicationProtocol.ToArray() ?? [];
            connections.Enqueue(new AcceptedConnection(((FilterChain)items["chain"]!).Name, (string)items["alpn"]!, System.Text.Encoding.ASCII.GetString(negotiated)));
            var certificate = http.Connection.ClientCertificate;
            var peer = certificate is null ? string.Empty : new SubjectAlternativeNames(certificate).Uri;
            return Task.FromResult(new ReviewsReply { Server = "envoy-reviews", Peer = peer });
        }
    }
}
