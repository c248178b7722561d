using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Envoy.Service.Discovery.V3;
using Grpc.Net.Client;
using Istio.V1.Auth;
using Mesh.ControlPlane.Security;
using Mesh.Testing;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.ControlPlane.Tests.Security;

/// <summary>The signing service over real loopback TLS: who may get which certificate.</summary>
public sealed class CertificateSigningTests : IAsyncLifetime
{
    private TestControlPlane _cp = null!;

    public async Task InitializeAsync() =>
        _cp = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["services.yaml"] = TestYaml.ReviewsServiceEntry });

    public async Task DisposeAsync() => await _cp.DisposeAsync();

    [Fact]
    public async Task CreateCertificate_TokenForTheCsrIdentity_IssuesLeafChainingToTheRoot()
    {
        var token = _cp.CreateToken("default", "productpage");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var response = await CallAsync(token, Csr(key, "spiffe://cluster.local/ns/default/sa/productpage"), validity: 0);

        Assert.Equal(2, response.CertChain.Count);
        using var leaf = X509Certificate2.CreateFromPem(response.CertChain[0]);
        using var root = X509Certificate2.CreateFromPem(response.CertChain[1]);
        Assert.Equal(_cp.CertificateAuthority.RootCertificate.Thumbprint, root.Thumbprint);
        Assert.True(SpiffeId.TryFromCertificate(leaf, out var id));
        Assert.Equal("spiffe://cluster.local/ns/default/sa/productpage", id.ToString());
        Assert.Equal(root.Subject, leaf.Issuer);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, leaf.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages);
        var usages = leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value).ToList();
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], usages);
        Assert.False(leaf.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        var lifetime = leaf.NotAfter.ToUniversalTime() - DateTime.UtcNow;
        Assert.InRange(lifetime, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
        Assert.True(leaf.NotBefore.ToUniversalTime() < DateTime.UtcNow.AddSeconds(-30), "NotBefore is backdated for clock skew");
        Assert.True(ChainsTo(leaf, root), "the leaf chains to the mesh root");
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), leaf.PublicKey.ExportSubjectPublicKeyInfo());
    }

    [Theory]
    [InlineData(20, 20)]
    [InlineData(48 * 3600, 24 * 3600)]
    public async Task CreateCertificate_RequestedValidity_HonouredUpTo24Hours(long requestedSeconds, long expectedSeconds)
    {
        var token = _cp.CreateToken("default", "reviews");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var response = await CallAsync(token, Csr(key, "spiffe://cluster.local/ns/default/sa/reviews"), requestedSeconds);

        using var leaf = X509Certificate2.CreateFromPem(response.CertChain[0]);
        var lifetime = (leaf.NotAfter.ToUniversalTime() - DateTime.UtcNow).TotalSeconds;
        Assert.InRange(lifetime, expectedSeconds - 30, expectedSeconds);
    }

    [Fact]
    public async Task CreateCertificate_TokenForAnotherServiceAccount_PermissionDeniedAndLogged()
    {
        var token = _cp.CreateToken("default", "a");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(token, Csr(key, "spiffe://cluster.local/ns/default/sa/b")));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("spiffe://cluster.local/ns/default/sa/b", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("the caller proved spiffe://cluster.local/ns/default/sa/a", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(_cp.Logs.MessagesAtLeast(LogLevel.Warning), m => m.Contains("Refused a certificate request", StringComparison.Ordinal) && m.Contains("sa/b", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CreateCertificate_CsrWithAnExtraDnsName_PermissionDenied()
    {
        var token = _cp.CreateToken("default", "a");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(token, Csr(key, "spiffe://cluster.local/ns/default/sa/a", "evil.example.com")));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("DNS:evil.example.com", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_NoToken_Unauthenticated()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(null, Csr(key, "spiffe://cluster.local/ns/default/sa/a")));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("no 'authorization: Bearer <token>' header (a join token or a projected ServiceAccount token)", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_ExpiredToken_Unauthenticated()
    {
        var expired = CertificateAuthority.CreateJoinToken(_cp.CaDirectory, new SpiffeId("cluster.local", "default", "a"), DateTimeOffset.UtcNow.AddSeconds(-5));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(expired, Csr(key, "spiffe://cluster.local/ns/default/sa/a")));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("expired", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_ForgedTokens_Unauthenticated()
    {
        var otherCa = Path.Combine(Path.GetTempPath(), "mesh-test-ca-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Signed with another CA directory's key.
            var foreign = CertificateAuthority.CreateJoinToken(otherCa, new SpiffeId("cluster.local", "default", "a"), DateTimeOffset.UtcNow.AddHours(1));

            // A genuine token for sa/b whose payload was edited to say sa/a.
            var genuine = _cp.CreateToken("default", "b");
            var parts = genuine.Split('.');
            var payload = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[0])).Replace("\"sa\":\"b\"", "\"sa\":\"a\"", StringComparison.Ordinal);
            var tampered = System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(payload)) + "." + parts[1];

            foreach (var token in new[] { foreign, tampered, "not-a-token" })
            {
                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(token, Csr(key, "spiffe://cluster.local/ns/default/sa/a")));
                Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
            }
        }
        finally
        {
            Directory.Delete(otherCa, recursive: true);
        }
    }

    [Fact]
    public async Task CreateCertificate_OverThePlaintextXdsPort_Refused()
    {
        using var channel = GrpcChannel.ForAddress(_cp.XdsAddress);
        var client = new IstioCertificateService.IstioCertificateServiceClient(channel);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new IstioCertificateRequest { Csr = Csr(key, "spiffe://cluster.local/ns/default/sa/a") };

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.CreateCertificateAsync(request, new Metadata { { "authorization", "Bearer " + _cp.CreateToken("default", "a") } }));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("only over TLS", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_RenewalWithTheCurrentCertificateAndNoToken_IssuesTheSameIdentity()
    {
        using var firstKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var first = await CallAsync(_cp.CreateToken("default", "reviews"), Csr(firstKey, "spiffe://cluster.local/ns/default/sa/reviews"));
        using var current = X509Certificate2.CreateFromPem(first.CertChain[0]).CopyWithPrivateKey(firstKey);
        using var nextKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var renewed = await CallAsync(null, Csr(nextKey, "spiffe://cluster.local/ns/default/sa/reviews"), clientCertificate: current);
        var otherIdentity = await Assert.ThrowsAsync<RpcException>(() =>
            CallAsync(null, Csr(nextKey, "spiffe://cluster.local/ns/default/sa/ratings"), clientCertificate: current));

        using var leaf = X509Certificate2.CreateFromPem(renewed.CertChain[0]);
        Assert.True(SpiffeId.TryFromCertificate(leaf, out var id));
        Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", id.ToString());
        Assert.Equal(StatusCode.PermissionDenied, otherIdentity.StatusCode);
    }

    [Fact]
    public async Task CreateCertificate_ClientCertificateFromAnotherRoot_IgnoredForTheTokenButNeverTrusted()
    {
        using var foreignKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=foreign", foreignKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/reviews"));
        request.CertificateExtensions.Add(names.Build());
        using var foreign = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        // With a valid token the (e.g. pre-rotation) certificate does not stand in the way...
        var withToken = await CallAsync(_cp.CreateToken("default", "reviews"), Csr(key, "spiffe://cluster.local/ns/default/sa/reviews"), clientCertificate: foreign);

        // ...and without one it proves nothing.
        var withoutToken = await Assert.ThrowsAsync<RpcException>(() =>
            CallAsync(null, Csr(key, "spiffe://cluster.local/ns/default/sa/reviews"), clientCertificate: foreign));

        Assert.Equal(2, withToken.CertChain.Count);
        Assert.Equal(StatusCode.Unauthenticated, withoutToken.StatusCode);
        Assert.Contains("does not chain to the mesh root", withoutToken.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TlsPort_ServesAdsWithACertificateForLocalhostAndTheControlPlaneIdentity()
    {
        X509Certificate2? seen = null;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    seen = X509CertificateLoader.LoadCertificate(certificate!.GetRawCertData());
                    return (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None && ChainsTo(seen, _cp.CertificateAuthority.RootCertificate);
                },
            },
        };
        using var channel = GrpcChannel.ForAddress(_cp.TlsAddress, new GrpcChannelOptions { HttpHandler = handler });
        using var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
        var request = new DiscoveryRequest
        {
            Node = new Envoy.Config.Core.V3.Node { Id = "tls-test" },
            TypeUrl = XdsTypeUrls.Listener,
            ResourceNames = { "reviews.default.svc.cluster.local:9080" },
        };

        await call.RequestStream.WriteAsync(request);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Single(call.ResponseStream.Current.Resources);
        await call.RequestStream.CompleteAsync();
        Assert.NotNull(seen);
        Assert.True(SpiffeId.TryFromCertificate(seen, out var id));
        Assert.Equal("spiffe://cluster.local/ns/istio-system/sa/mesh-controlplane", id.ToString());
        seen.Dispose();
    }

    [Fact]
    public async Task CreateCertificate_Ed25519Csr_InvalidArgumentWithoutStackTrace()
    {
        var token = _cp.CreateToken("default", "reviews");

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(token, Ed25519Csr("spiffe://cluster.local/ns/default/sa/reviews")));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("1.3.101.112", ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_Secp256k1Key_InvalidArgument()
    {
        var token = _cp.CreateToken("default", "reviews");
        using var key = ECDsa.Create(ECCurve.CreateFromValue("1.3.132.0.10"));

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(token, Csr(key, "spiffe://cluster.local/ns/default/sa/reviews")));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("P-256", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_Sha1SignedCsr_InvalidArgument()
    {
        var token = _cp.CreateToken("default", "reviews");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var request = new CertificateRequest(new X500DistinguishedName(string.Empty), key, HashAlgorithmName.SHA1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/reviews"));
        request.CertificateExtensions.Add(names.Build(critical: true));
        var csr = PemEncoding.WriteString("CERTIFICATE REQUEST", request.CreateSigningRequest(new Sha1EcdsaSignatureGenerator(key)));

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(token, csr));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("SHA-256 or stronger", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateCertificate_Rsa2048AndP384_StillIssued()
    {
        var token = _cp.CreateToken("default", "reviews");
        using var rsa = RSA.Create(2048);
        var rsaRequest = new CertificateRequest(new X500DistinguishedName(string.Empty), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/reviews"));
        rsaRequest.CertificateExtensions.Add(names.Build(critical: true));
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        var fromRsa = await CallAsync(token, rsaRequest.CreateSigningRequestPem());
        var fromP384 = await CallAsync(token, Csr(p384, "spiffe://cluster.local/ns/default/sa/reviews", hash: HashAlgorithmName.SHA384));

        Assert.Equal(2, fromRsa.CertChain.Count);
        Assert.Equal(2, fromP384.CertChain.Count);
    }

    [Fact]
    public async Task CreateCertificate_OneTokenReplayedFast_IsThrottledAfterTheBurst()
    {
        var token = _cp.CreateToken("default", "reviews");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = Csr(key, "spiffe://cluster.local/ns/default/sa/reviews");
        var issued = 0;
        RpcException? throttled = null;
        var started = System.Diagnostics.Stopwatch.StartNew();

        // 500 requests as fast as one client can send them (the review saw 500 certificates in 1.35 s).
        for (var i = 0; i < 500 && throttled is null; i++)
        {
            try
            {
                await CallAsync(token, csr);
                issued++;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                throttled = ex;
            }
        }

        Assert.NotNull(throttled);
        var refilled = (int)Math.Ceiling(started.Elapsed.TotalSeconds * IssuanceRateLimiter.PerSecond);
        Assert.InRange(issued, IssuanceRateLimiter.Burst, IssuanceRateLimiter.Burst + refilled + 1);
        Assert.Contains("retry in", throttled.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(_cp.Logs.MessagesAtLeast(LogLevel.Warning), m => m.Contains("Throttling certificate requests for spiffe://cluster.local/ns/default/sa/reviews", StringComparison.Ordinal));

        // Another identity is not affected.
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var other = await CallAsync(_cp.CreateToken("default", "ratings"), Csr(otherKey, "spiffe://cluster.local/ns/default/sa/ratings"));
        Assert.Equal(2, other.CertChain.Count);
    }

    /// <summary>Signs with ECDSA over SHA-1 (ecdsa-with-SHA1), which .NET's own generator refuses to do.</summary>
    private sealed class Sha1EcdsaSignatureGenerator(ECDsa key) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm)
        {
            var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier("1.2.840.10045.4.1");
            }

            return writer.Encode();
        }

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) =>
            key.SignData(data, HashAlgorithmName.SHA1, DSASignatureFormat.Rfc3279DerSequence);

        protected override PublicKey BuildPublicKey() => new(key);
    }

    /// <summary>A PKCS#10 request with an Ed25519 key (OID 1.3.101.112), which .NET cannot make itself; the signature is junk, as it is never checked.</summary>
    private static string Ed25519Csr(string uri)
    {
        const string Ed25519 = "1.3.101.112";
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteInteger(0);
                using (writer.PushSequence())
                {
                }

                using (writer.PushSequence())
                {
                    using (writer.PushSequence())
                    {
                        writer.WriteObjectIdentifier(Ed25519);
                    }

                    writer.WriteBitString(RandomNumberGenerator.GetBytes(32));
                }

                var names = new SubjectAlternativeNameBuilder();
                names.AddUri(new Uri(uri));
                using (writer.PushSequence(new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 0)))
                {
                    using (writer.PushSequence())
                    {
                        writer.WriteObjectIdentifier("1.2.840.113549.1.9.14"); // extensionRequest
                        using (writer.PushSetOf())
                        {
                            using (writer.PushSequence())
                            {
                                using (writer.PushSequence())
                                {
                                    writer.WriteObjectIdentifier("2.5.29.17");
                                    writer.WriteOctetString(names.Build().RawData);
                                }
                            }
                        }
                    }
                }
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Ed25519);
            }

            writer.WriteBitString(RandomNumberGenerator.GetBytes(64));
        }

        return PemEncoding.WriteString("CERTIFICATE REQUEST", writer.Encode());
    }

    internal static string Csr(ECDsa key, string uri, string? dnsName = null, HashAlgorithmName? hash = null)
    {
        var request = new CertificateRequest(new X500DistinguishedName(string.Empty), key, hash ?? HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri(uri));
        if (dnsName is not null)
        {
            names.AddDnsName(dnsName);
        }

        request.CertificateExtensions.Add(names.Build(critical: true));
        return request.CreateSigningRequestPem();
    }

    internal static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 root, params X509Certificate2[] intermediates)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    private async Task<IstioCertificateResponse> CallAsync(string? token, string csr, long validity = 0, X509Certificate2? clientCertificate = null)
    {
        var root = _cp.CertificateAuthority.RootCertificate;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    using var server = X509CertificateLoader.LoadCertificate(certificate!.GetRawCertData());
                    return ChainsTo(server, root);
                },
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            },
        };
        using var channel = GrpcChannel.ForAddress(_cp.TlsAddress, new GrpcChannelOptions { HttpHandler = handler });
        var client = new IstioCertificateService.IstioCertificateServiceClient(channel);
        var headers = new Metadata();
        if (token is not null)
        {
            headers.Add("authorization", "Bearer " + token);
        }

        return await client.CreateCertificateAsync(new IstioCertificateRequest { Csr = csr, ValidityDuration = validity }, headers);
    }
}
