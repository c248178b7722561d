using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Mesh.Client.Security;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Tests.Security;

/// <summary>
/// Pins that certificates from the mesh CA, with keys generated in-process, work for a real mutual TLS handshake on
/// this platform in both roles, validated against the mesh root only (custom root trust), and that a certificate from
/// elsewhere is refused.
/// </summary>
public sealed class MutualTlsHandshakeTests : IAsyncLifetime
{
    private TestControlPlane _cp = null!;
    private ServiceProvider _client = null!;
    private ServiceProvider _server = null!;

    public async Task InitializeAsync()
    {
        _cp = await TestControlPlane.StartAsync(new Dictionary<string, string>());
        var root = SecurityTestSupport.WriteRoot(_cp);
        _client = SecurityTestSupport.Services(SecurityTestSupport.MeshCaBootstrap(_cp, root, _cp.CreateToken("default", "productpage")));
        _server = SecurityTestSupport.Services(SecurityTestSupport.MeshCaBootstrap(_cp, root, _cp.CreateToken("default", "reviews")));
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        await _cp.DisposeAsync();
    }

    [Fact]
    public async Task Handshake_TwoMeshCertificates_SucceedsAndEachSideSeesThePeersSpiffeId()
    {
        var client = await CertificateOf(_client);
        var server = await CertificateOf(_server);

        var (clientSaw, serverSaw) = await HandshakeAsync(client.Certificate, client.Intermediates, server.Certificate, server.Intermediates, server.TrustedRoots);

        Assert.Equal(new SpiffeId("cluster.local", "default", "reviews"), clientSaw);
        Assert.Equal(new SpiffeId("cluster.local", "default", "productpage"), serverSaw);
    }

    [Fact]
    public async Task Handshake_ClientCertificateNotFromTheMeshRoot_IsRefusedByTheServer()
    {
        var server = await CertificateOf(_server);
        using var stranger = SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/productpage", null);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(stranger, [], server.Certificate, server.Intermediates, server.TrustedRoots));

        Assert.True(ex is AuthenticationException or IOException, ex.ToString());
    }

    [Fact]
    public async Task Handshake_ServerCertificateNotFromTheMeshRoot_IsRefusedByTheClient()
    {
        var client = await CertificateOf(_client);
        using var strangerRoot = SecurityTestSupport.CreateRoot("CN=Elsewhere");
        using var stranger = SecurityTestSupport.CreateLeaf("spiffe://cluster.local/ns/default/sa/reviews", strangerRoot);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(client.Certificate, client.Intermediates, stranger, [], client.TrustedRoots));

        Assert.True(ex is AuthenticationException or IOException, ex.ToString());
    }

    private static async Task<WorkloadCertificate> CertificateOf(ServiceProvider services) =>
        await SecurityTestSupport.FirstCertificateAsync(services.GetRequiredService<CertificateProviderStore>().Get("default")!);

    /// <summary>A TLS handshake over loopback TCP; each side trusts only <paramref name="roots"/>. Returns the SPIFFE IDs each side saw.</summary>
    private static async Task<(SpiffeId? ClientSaw, SpiffeId? ServerSaw)> HandshakeAsync(
        X509Certificate2 clientCertificate, X509Certificate2Collection clientIntermediates,
        X509Certificate2 serverCertificate, X509Certificate2Collection serverIntermediates, X509Certificate2Collection roots)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var accept = listener.AcceptTcpClientAsync(timeout.Token).AsTask();
        using var tcpClient = new TcpClient();
        await tcpClient.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, timeout.Token);
        using var tcpServer = await accept;

        await using var clientStream = new SslStream(tcpClient.GetStream());
        await using var serverStream = new SslStream(tcpServer.GetStream());
        var serverTask = serverStream.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(serverCertificate, serverIntermediates, offline: true),
            ClientCertificateRequired = true,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ChainsToRoots(certificate, chain, roots),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, timeout.Token);
        var clientTask = clientStream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "reviews.default.svc.cluster.local",
            ClientCertificateContext = SslStreamCertificateContext.Create(clientCertificate, clientIntermediates, offline: true),
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ChainsToRoots(certificate, chain, roots),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, timeout.Token);

        // Either side may fail first; the other then sees a closed connection.
        var both = Task.WhenAll(serverTask, clientTask);
        await both;

        // Data flows both ways (with TLS 1.3 the server's verdict on the client certificate arrives with the first read).
        await clientStream.WriteAsync("ping"u8.ToArray(), timeout.Token);
        var buffer = new byte[4];
        await serverStream.ReadExactlyAsync(buffer, timeout.Token);
        await serverStream.WriteAsync(buffer, timeout.Token);
        await clientStream.ReadExactlyAsync(buffer, timeout.Token);
        Assert.Equal("ping"u8.ToArray(), buffer);

        SpiffeId? clientSaw = null, serverSaw = null;
        if (clientStream.RemoteCertificate is { } s)
        {
            using var copy = X509CertificateLoader.LoadCertificate(s.GetRawCertData());
            SpiffeId.TryFromCertificate(copy, out clientSaw);
        }

        if (serverStream.RemoteCertificate is { } c)
        {
            using var copy = X509CertificateLoader.LoadCertificate(c.GetRawCertData());
            SpiffeId.TryFromCertificate(copy, out serverSaw);
        }

        return (clientSaw, serverSaw);
    }

    private static bool ChainsToRoots(X509Certificate? certificate, X509Chain? presented, X509Certificate2Collection roots)
    {
        if (certificate is null)
        {
            return false;
        }

        using var peer = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        if (presented is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(peer);
    }
}
