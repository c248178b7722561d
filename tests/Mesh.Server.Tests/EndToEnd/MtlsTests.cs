using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Mesh.Server.Tests.Reviews;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Server.Tests.EndToEnd;

/// <summary>PeerAuthentication and mutual TLS end to end: real Kestrel servers, real mesh clients, YAML in.</summary>
public class MtlsTests
{
    private const string Peer = "spiffe://cluster.local/ns/default/sa/productpage";

    [Fact]
    public async Task Strict_PlaintextClientRefused_MeshClientServedWithItsSpiffeId()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));

        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (reply, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal("reviews", reply!.Server);
        Assert.Equal(Peer, reply.Peer);
        Assert.Equal(Peer, reply.User);

        using var plain = DirectChannel.Plaintext(port);
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            new Reviews.Reviews.ReviewsClient(plain).GetReviewsAsync(new ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync);
        // The server resets the connection; Grpc.Net.Client reports that as UNAVAILABLE, or INTERNAL when the request
        // was already on the wire ("response ended prematurely").
        Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        Assert.Contains(mesh.ServerLogs.MessagesAtLeast(Microsoft.Extensions.Logging.LogLevel.Debug), m => m.Contains("plaintext is not accepted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Permissive_PlaintextAndMtlsClientsBothServedOnOnePort()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");

        // ISTIO_MUTUAL makes the mesh client use mTLS even though the server also takes plaintext.
        const string Mutual = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: default}
            spec:
              host: reviews
              trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
            """;
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", string.Join("\n---\n", SecureMesh.ReviewsEntry(port), SecureMesh.PeerAuthentication("PERMISSIVE"), Mutual));

        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (reply, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal(Peer, reply!.Peer);

        using var plain = DirectChannel.Plaintext(port);
        var plainReply = await new Reviews.Reviews.ReviewsClient(plain).GetReviewsAsync(new ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        Assert.Equal("reviews", plainReply.Server);
        Assert.Equal(string.Empty, plainReply.Peer);
    }

    [Fact]
    public async Task Strict_CertificateNotFromMeshRoot_RefusedByServer()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));

        // A mesh client first, so we know the server is serving mTLS on this configuration.
        var (_, error) = await SecureMesh.CallAsync(mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>());
        Assert.True(error is null, error?.Status.ToString());

        // An impostor: a self-signed certificate claiming the productpage identity.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=impostor", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(Peer));
        request.CertificateExtensions.Add(san.Build());
        using var impostor = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // The impostor checks the server as a mesh client would (the mesh root, no host name): the question is only
        // whether the server lets the impostor in.
        var roots = new X509Certificate2Collection { X509Certificate2.CreateFromPem(mesh.ControlPlane.RootCertificatePem) };
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [impostor],
                RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                    Mesh.Client.Transport.PeerCertificateValidator.TryValidate(certificate, chain, roots, [], out _, out _),
            },
        };
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions { HttpHandler = handler });
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            new Reviews.Reviews.ReviewsClient(channel).GetReviewsAsync(new ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync);
        Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal }); // a failed handshake
        Assert.Contains(mesh.ServerLogs.MessagesAtLeast(Microsoft.Extensions.Logging.LogLevel.Debug), m => m.Contains("does not chain to the mesh's roots", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Strict_ServerWhoseIdentityDoesNotMatch_RefusedByClient()
    {
        await using var mesh = await SecureMesh.StartAsync();

        // The server runs as "ratings", but the mesh says reviews' endpoint runs as "reviews".
        var port = await mesh.StartServerAsync("ratings", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port, serviceAccount: "reviews") + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));

        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (reply, error) = await SecureMesh.CallAsync(client, TimeSpan.FromSeconds(5));
        Assert.Null(reply);
        Assert.Equal(StatusCode.Unavailable, error!.StatusCode);
        Assert.Contains("spiffe://cluster.local/ns/default/sa/ratings", error.Status.Detail + error.Status.DebugException, StringComparison.Ordinal);

        // Once the mesh knows the right identity, the same server is accepted.
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port, serviceAccount: "ratings") + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));
        (reply, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal("ratings", reply!.Server);
    }

    [Fact]
    public async Task Http_MeshRoutedHttpClient_UsesMtlsAndServerSeesIdentity()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews", protocols: Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1AndHttp2);
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));

        var http = mesh.Client("productpage").GetRequiredService<IHttpClientFactory>().CreateClient("reviews");
        string? body = null;
        for (var i = 0; i < 50 && body is null; i++)
        {
            using var response = await http.GetAsync(new Uri("http://reviews:9080/whoami"));
            if (response.IsSuccessStatusCode)
            {
                body = await response.Content.ReadAsStringAsync();
            }
            else
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(Peer, body);
    }

    [Fact]
    public async Task PermissiveToStrict_OpenPlaintextConnectionIsClosed_ClientMovesToMtls()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("PERMISSIVE"));

        // PERMISSIVE and no DestinationRule: the mesh client connects in plaintext, so the server sees no identity.
        var client = mesh.Client("productpage").GetRequiredService<Reviews.Reviews.ReviewsClient>();
        var (reply, error) = await SecureMesh.CallAsync(client);
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal(string.Empty, reply!.Peer);

        // STRICT: the client switches to mTLS (auto mTLS), and the server closes the old plaintext connection.
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));
        string? peer = null;
        for (var i = 0; i < 100 && peer != Peer; i++)
        {
            try
            {
                peer = (await client.GetReviewsAsync(new ReviewsRequest(), deadline: DateTime.UtcNow.AddSeconds(5))).Peer;
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal)
            {
            }

            await Task.Delay(100);
        }

        Assert.Equal(Peer, peer);
    }

    [Fact]
    public async Task Strict_ChannelWithoutTheMeshConnector_FailsClearlyInsteadOfPlaintext()
    {
        await using var mesh = await SecureMesh.StartAsync();
        var port = await mesh.StartServerAsync("reviews", "reviews");
        await mesh.ControlPlane.WriteFileAsync("reviews.yaml", SecureMesh.ReviewsEntry(port) + "\n---\n" + SecureMesh.PeerAuthentication("STRICT"));
        var services = mesh.Client("productpage");

        // Given a handler of its own (no mesh connector), the channel cannot do per-cluster mTLS: it fails closed.
        using var handler = new SocketsHttpHandler();
        using var channel = GrpcChannel.ForAddress("xds:///reviews:9080", new GrpcChannelOptions { ServiceProvider = services, Credentials = ChannelCredentials.Insecure, HttpHandler = handler });
        var (reply, error) = await SecureMesh.CallAsync(new Reviews.Reviews.ReviewsClient(channel), TimeSpan.FromSeconds(3));
        Assert.Null(reply);
        Assert.Equal(StatusCode.Unavailable, error!.StatusCode);
        Assert.Contains("UseMesh", error.Status.Detail, StringComparison.Ordinal);

        // A bare channel (no handler: the xds resolver gives it one with the mesh connector) and one made with
        // UseMesh() both work.
        using var bareChannel = GrpcChannel.ForAddress("xds:///reviews:9080", new GrpcChannelOptions { ServiceProvider = services, Credentials = ChannelCredentials.Insecure });
        (reply, error) = await SecureMesh.CallAsync(new Reviews.Reviews.ReviewsClient(bareChannel));
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal(Peer, reply!.Peer);

        using var meshChannel = GrpcChannel.ForAddress("xds:///reviews:9080", new GrpcChannelOptions().UseMesh(services));
        (reply, error) = await SecureMesh.CallAsync(new Reviews.Reviews.ReviewsClient(meshChannel));
        Assert.True(error is null, error?.Status.ToString());
        Assert.Equal(Peer, reply!.Peer);
    }
}
