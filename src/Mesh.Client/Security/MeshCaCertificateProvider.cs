using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Istio.V1.Auth;
using Mesh.Client.Xds;
using Mesh.Xds;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Security;

/// <summary>
/// Mesh's <c>mesh_ca</c> plugin: generates a key in this process (it never leaves it), sends a CSR for the workload's
/// SPIFFE ID to the CA's <c>IstioCertificateService/CreateCertificate</c> over TLS (trusting only
/// <c>ca_certificate_file</c>), proving the identity with the join token — and, on renewals, also with the current
/// certificate as TLS client certificate. It renews at half of the remaining lifetime (±10 % jitter), retries failures
/// with backoff while the current certificate stays in use, and swaps certificates atomically.
/// </summary>
internal sealed partial class MeshCaCertificateProvider : CertificateProvider
{
    /// <summary>The relative jitter of the renewal time: ±10 %.</summary>
    internal const double RenewalJitter = 0.1;

    private static readonly XdsBackoffPolicy RetryPolicy = new(TimeSpan.FromSeconds(1), 2, 0.2, TimeSpan.FromSeconds(60));
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly MeshCaConfig _config;
    private readonly TimeProvider _time;
    private readonly Func<double> _random;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public MeshCaCertificateProvider(MeshCaConfig config, TimeProvider time, ILogger<MeshCaCertificateProvider> logger, Func<double>? random = null)
        : base(logger)
    {
        _config = config;
        _time = time;
        _random = random ?? Random.Shared.NextDouble;
    }

    public override string PluginName => CertificateProviderPlugins.MeshCa;

    /// <summary>The renewal loop, for tests that need to wait for it to stop.</summary>
    internal Task? Loop => _loop;

    /// <summary>
    /// When to renew a certificate received at <paramref name="now"/> that expires at <paramref name="notAfter"/>:
    /// after half of the remaining lifetime, ±<see cref="RenewalJitter"/>.
    /// </summary>
    internal static TimeSpan RenewalDelay(DateTimeOffset now, DateTimeOffset notAfter, double random)
    {
        var half = (notAfter - now) / 2;
        if (half <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        return half * (1 + (RenewalJitter * ((random * 2) - 1)));
    }

    protected override void Start() => _loop = Task.Run(() => RunAsync(_stopping.Token));

    protected override void Dispose(bool disposing)
    {
        _stopping.Cancel();
        _stopping.Dispose();
        base.Dispose(disposing);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new XdsBackoff(RetryPolicy, _random);
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan delay;
            try
            {
                var certificate = await RequestAsync(cancellationToken).ConfigureAwait(false);
                var now = _time.GetUtcNow();
                delay = RenewalDelay(now, certificate.NotAfter, _random());
                Log.Issued(Logger, certificate.Identity!.ToString(), certificate.NotAfter, delay);
                Publish(certificate);
                backoff.Reset();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                ReportError(ex);
                delay = backoff.Next();
                if (Current is { } current && current.NotAfter > _time.GetUtcNow())
                {
                    Log.RenewalFailed(Logger, _config.ServerUri, current.NotAfter, delay, ex);
                }
                else
                {
                    Log.RequestFailed(Logger, _config.ServerUri, delay, ex);
                }
            }

            try
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<WorkloadCertificate> RequestAsync(CancellationToken cancellationToken)
    {
        var token = _config.Token ?? (await File.ReadAllTextAsync(_config.TokenFile!, cancellationToken).ConfigureAwait(false)).Trim();
        var identity = _config.Identity ?? MeshCaConfig.TokenIdentity(token)
            ?? throw new InvalidOperationException($"The token in '{_config.TokenFile}' is not a Mesh join token; set namespace and service_account in the mesh_ca config.");
        var roots = CertificateFiles.ParseCertificates(
            await File.ReadAllTextAsync(_config.CaCertificateFile, cancellationToken).ConfigureAwait(false), $"'{_config.CaCertificateFile}'");

        using AsymmetricAlgorithm key = _config.KeyType == MeshCaConfig.Rsa2048 ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = key is RSA rsa
            ? new CertificateRequest(new X500DistinguishedName(string.Empty), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(new X500DistinguishedName(string.Empty), (ECDsa)key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(identity.ToUri());
        request.CertificateExtensions.Add(names.Build(critical: true));

        // A new connection per request (renewals are hours apart): it presents the current certificate, if still valid.
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ValidateServer(certificate, chain, errors, roots),
                ClientCertificateContext = Current is { } current && current.NotAfter > _time.GetUtcNow()
                    ? SslStreamCertificateContext.Create(current.Certificate, current.Intermediates, offline: true)
                    : null,
            },
            EnableMultipleHttp2Connections = false,
        };
        using var timeout = new CancellationTokenSource(RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        using var channel = GrpcChannel.ForAddress(_config.ServerUri, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = false });
        var client = new IstioCertificateService.IstioCertificateServiceClient(channel);
        var response = await client.CreateCertificateAsync(
            new IstioCertificateRequest
            {
                Csr = request.CreateSigningRequestPem(),
                ValidityDuration = (long)Math.Ceiling(_config.CertificateLifetime.TotalSeconds),
            },
            new Metadata { { "authorization", "Bearer " + token } },
            cancellationToken: linked.Token).ConfigureAwait(false);

        return ToWorkloadCertificate(response, key, identity, roots);
    }

    private WorkloadCertificate ToWorkloadCertificate(IstioCertificateResponse response, AsymmetricAlgorithm key, SpiffeId identity, X509Certificate2Collection roots)
    {
        if (response.CertChain.Count == 0)
        {
            throw new InvalidOperationException("The CA returned an empty certificate chain.");
        }

        var certificates = new X509Certificate2Collection();
        foreach (var pem in response.CertChain)
        {
            certificates.ImportFromPem(pem);
        }

        using var leafPublic = certificates[0];
        var leaf = key is RSA rsa ? leafPublic.CopyWithPrivateKey(rsa) : leafPublic.CopyWithPrivateKey((ECDsa)key);
        if (!SpiffeId.TryFromCertificate(leaf, out var issuedFor) || issuedFor != identity)
        {
            leaf.Dispose();
            throw new InvalidOperationException($"The CA issued a certificate for {issuedFor?.ToString() ?? "no SPIFFE ID"}, not {identity}.");
        }

        // Intermediates: everything between the leaf and a self-signed root (the CA sends the root last).
        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < certificates.Count; i++)
        {
            if (!certificates[i].SubjectName.RawData.AsSpan().SequenceEqual(certificates[i].IssuerName.RawData))
            {
                intermediates.Add(certificates[i]);
            }
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        if (!chain.Build(leaf))
        {
            leaf.Dispose();
            throw new InvalidOperationException(
                $"The issued certificate does not chain to '{_config.CaCertificateFile}': {string.Join(", ", chain.ChainStatus.Select(s => s.Status))}");
        }

        return new WorkloadCertificate(CertificateFiles.ForTls(leaf), intermediates, roots);
    }

    /// <summary>The CA's TLS certificate must chain to the configured root and match the host name.</summary>
    private bool ValidateServer(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors, X509Certificate2Collection roots)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            Log.ServerRejected(Logger, _config.ServerUri, errors.ToString());
            return false;
        }

        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        if (presented is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        if (chain.Build(server))
        {
            return true;
        }

        Log.ServerRejected(Logger, _config.ServerUri, string.Join(", ", chain.ChainStatus.Select(s => s.Status)));
        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Obtained a certificate for {Identity}, valid until {NotAfter:u}; renewing in {Delay}.")]
        public static partial void Issued(ILogger logger, string identity, DateTimeOffset notAfter, TimeSpan delay);

        [LoggerMessage(2, LogLevel.Warning, "Renewing the certificate from {Server} failed; the current one is valid until {NotAfter:u}; retrying in {Delay}.")]
        public static partial void RenewalFailed(ILogger logger, Uri server, DateTimeOffset notAfter, TimeSpan delay, Exception exception);

        [LoggerMessage(3, LogLevel.Error, "Obtaining a certificate from {Server} failed; retrying in {Delay}.")]
        public static partial void RequestFailed(ILogger logger, Uri server, TimeSpan delay, Exception exception);

        [LoggerMessage(4, LogLevel.Warning, "The CA server {Server} presented a certificate that is not trusted: {Problem}.")]
        public static partial void ServerRejected(ILogger logger, Uri server, string problem);
    }
}
