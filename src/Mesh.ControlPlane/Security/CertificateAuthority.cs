using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Mesh.Xds;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.ControlPlane.Security;

/// <summary>
/// The mesh's certificate authority: signs workload certificates for SPIFFE identities
/// (<c>spiffe://&lt;trust-domain&gt;/ns/&lt;ns&gt;/sa/&lt;sa&gt;</c>) and issues the join tokens workloads prove those
/// identities with.
/// </summary>
/// <remarks>
/// <para>The CA directory uses Istio's "plugged-in CA" file names. When it holds <c>ca-cert.pem</c> and
/// <c>ca-key.pem</c>, they are the signing certificate and key: a root (self-signed), or an intermediate, in which case
/// <c>root-cert.pem</c> is required and <c>cert-chain.pem</c> may add the certificates between it and the root. When it
/// holds neither, a root is generated on first start — ECDSA P-256, 10 years — and written there, the key with
/// owner-only permissions (0600), along with <c>root-cert.pem</c> for workloads to trust.</para>
/// <para>The join token key (<c>join-token.key</c>, 0600) is created in the same directory on first use.</para>
/// </remarks>
public sealed partial class CertificateAuthority : IDisposable
{
    /// <summary>The signing certificate's file name in the CA directory.</summary>
    public const string CertificateFileName = "ca-cert.pem";

    /// <summary>The signing key's file name in the CA directory (PKCS#8 PEM).</summary>
    public const string KeyFileName = "ca-key.pem";

    /// <summary>The root certificate's file name in the CA directory: the trust anchor workloads are given.</summary>
    public const string RootCertificateFileName = "root-cert.pem";

    /// <summary>The file name of the certificates between an intermediate signing certificate and the root.</summary>
    public const string ChainFileName = "cert-chain.pem";

    /// <summary>The lifetime of a workload certificate when the request names none, and the longest one issued: 24 hours.</summary>
    public static readonly TimeSpan MaxCertificateLifetime = TimeSpan.FromHours(24);

    /// <summary>How far back a certificate's NotBefore is set, for clocks that run a little behind: 1 minute.</summary>
    public static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan RootLifetime = TimeSpan.FromDays(3650);

    private readonly X509Certificate2 _signer;
    private readonly X509SignatureGenerator _generator;
    private readonly X509Certificate2[] _chainAboveSigner;
    private readonly JoinTokens _tokens;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AsymmetricAlgorithm _key;
    private readonly X509AuthorityKeyIdentifierExtension _authorityKeyIdentifier;

    private CertificateAuthority(
        string directory, string trustDomain, X509Certificate2 signer, AsymmetricAlgorithm key, X509Certificate2[] chainAboveSigner,
        X509Certificate2 root, TimeProvider time, ILogger logger)
    {
        Directory = directory;
        TrustDomain = trustDomain;
        _signer = signer;
        _key = key;
        _generator = key switch
        {
            ECDsa ecdsa => X509SignatureGenerator.CreateForECDsa(ecdsa),
            RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
            _ => throw new InvalidOperationException("The CA key must be ECDSA or RSA."),
        };
        _chainAboveSigner = chainAboveSigner;

        // The signer's own key identifier when it has one (a user-supplied CA may not), else one derived from its key.
        _authorityKeyIdentifier = X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(
            signer.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault() ?? new X509SubjectKeyIdentifierExtension(signer.PublicKey, false));
        RootCertificate = root;
        RootCertificatePem = root.ExportCertificatePem() + "\n";
        _tokens = JoinTokens.LoadOrCreate(directory);
        _time = time;
        _logger = logger;
    }

    /// <summary>The CA directory.</summary>
    public string Directory { get; }

    /// <summary>The trust domain of the identities this CA signs, e.g. <c>cluster.local</c>.</summary>
    public string TrustDomain { get; }

    /// <summary>The root certificate (public part only): the trust anchor of every certificate this CA issues.</summary>
    public X509Certificate2 RootCertificate { get; }

    /// <summary><see cref="RootCertificate"/> as PEM, for a workload's <c>ca_certificate_file</c>.</summary>
    public string RootCertificatePem { get; }

    /// <summary>The certificate this CA signs with (the root itself, or a user-supplied intermediate).</summary>
    public X509Certificate2 SigningCertificate => _signer;

    /// <summary>
    /// Opens the CA in <paramref name="directory"/>: the user's signing certificate and key when present, else a root
    /// generated now (or on an earlier start) and persisted there.
    /// </summary>
    /// <param name="directory">The CA directory; created (0700) when missing.</param>
    /// <param name="trustDomain">The trust domain, e.g. <c>cluster.local</c>.</param>
    /// <param name="time">The clock; defaults to the system clock.</param>
    /// <param name="logger">Where to log; defaults to nowhere.</param>
    /// <returns>The CA.</returns>
    /// <exception cref="InvalidOperationException">The directory holds an unusable CA; the message names the file and the problem.</exception>
    public static CertificateAuthority LoadOrCreate(string directory, string trustDomain, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(trustDomain);
        time ??= TimeProvider.System;
        logger ??= NullLogger.Instance;
        directory = Path.GetFullPath(directory);
        _ = new SpiffeId(trustDomain, "x", "x"); // validates the trust domain
        SecretFiles.EnsureDirectory(directory);
        var certPath = Path.Combine(directory, CertificateFileName);
        var keyPath = Path.Combine(directory, KeyFileName);
        if (!File.Exists(certPath) && !File.Exists(keyPath))
        {
            Generate(directory, trustDomain, time);
            Log.RootGenerated(logger, directory);
        }

        return Load(directory, trustDomain, time, logger);
    }

    /// <summary>
    /// Issues a join token that proves <c>spiffe://&lt;trust-domain&gt;/ns/<paramref name="namespace"/>/sa/<paramref name="serviceAccount"/></c>
    /// to this CA until it expires. Hand it to the workload (the <c>mesh_ca</c> certificate provider's <c>token</c> or
    /// <c>token_file</c>); treat it as a secret.
    /// </summary>
    /// <param name="namespace">The workload's namespace.</param>
    /// <param name="serviceAccount">The workload's service account.</param>
    /// <param name="lifetime">How long the token is valid; 24 hours when null.</param>
    /// <returns>The token.</returns>
    public string CreateJoinToken(string @namespace, string serviceAccount, TimeSpan? lifetime = null)
    {
        var identity = new SpiffeId(TrustDomain, @namespace, serviceAccount);
        var ttl = lifetime ?? TimeSpan.FromHours(24);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero, nameof(lifetime));
        return _tokens.Create(identity, _time.GetUtcNow() + ttl);
    }

    /// <summary>Issues a join token from the key in <paramref name="directory"/> without opening the CA (the CLI's <c>token create</c>).</summary>
    internal static string CreateJoinToken(string directory, SpiffeId identity, DateTimeOffset expires) =>
        JoinTokens.LoadOrCreate(Path.GetFullPath(directory)).Create(identity, expires);

    /// <summary>Checks a join token; see <see cref="JoinTokens.Validate"/>.</summary>
    internal SpiffeId? ValidateJoinToken(string token, out string error) =>
        _tokens.Validate(token, TrustDomain, _time.GetUtcNow(), out error);

    /// <summary>
    /// Checks that <paramref name="certificate"/> chains to this CA's root now and carries a SPIFFE identity of this
    /// trust domain; returns that identity, or null with the reason.
    /// </summary>
    internal SpiffeId? ValidatePeerCertificate(X509Certificate2 certificate, out string error)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(RootCertificate);
        chain.ChainPolicy.ExtraStore.AddRange(_chainAboveSigner.ToArray());
        chain.ChainPolicy.ExtraStore.Add(_signer);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        if (!chain.Build(certificate))
        {
            error = "the client certificate does not chain to the mesh root: " +
                string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()));
            return null;
        }

        if (!SpiffeId.TryFromCertificate(certificate, out var id) || id.TrustDomain != TrustDomain)
        {
            error = "the client certificate carries no SPIFFE identity of trust domain " + TrustDomain;
            return null;
        }

        error = string.Empty;
        return id;
    }

    /// <summary>
    /// Signs a workload certificate for <paramref name="identity"/> (which the caller has proven) from a PEM CSR.
    /// The CSR's signature must verify and its subject alternative names must be exactly the URI of
    /// <paramref name="identity"/>; every other requested extension is ignored. Returns the chain as PEM, leaf first,
    /// root last.
    /// </summary>
    /// <exception cref="CertificateSigningException">The CSR is invalid or asks for another identity.</exception>
    internal IReadOnlyList<string> Sign(string csrPem, SpiffeId identity, TimeSpan requestedLifetime)
    {
        // The algorithms first, from the DER itself: a key type or signature .NET cannot verify (Ed25519) must be a
        // clear refusal, not an exception from deep inside the loader.
        CheckAlgorithms(csrPem);
        CertificateRequest request;
        try
        {
            request = CertificateRequest.LoadSigningRequestPem(
                csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions, RSASignaturePadding.Pkcs1);
        }
        catch (Exception ex) when (ex is CryptographicException or NotSupportedException or PlatformNotSupportedException or FormatException)
        {
            throw new CertificateSigningException(false, "the CSR is not a valid PEM PKCS#10 request with a valid signature: " + ex.Message);
        }
        catch (ArgumentException ex)
        {
            throw new CertificateSigningException(false, "the CSR is not a valid PEM PKCS#10 request: " + ex.Message);
        }

        CheckPublicKey(request.PublicKey);
        var requested = RequestedNames(request);
        var expected = identity.ToString();
        if (requested.Count != 1 || requested[0] != "URI:" + expected)
        {
            var asked = requested.Count == 0 ? "no subject alternative name" : string.Join(", ", requested);
            throw new CertificateSigningException(true, $"the CSR asks for {asked}, but the caller proved {expected}; the CSR's only subject alternative name must be URI:{expected}");
        }

        var now = _time.GetUtcNow();
        var lifetime = requestedLifetime <= TimeSpan.Zero || requestedLifetime > MaxCertificateLifetime ? MaxCertificateLifetime : requestedLifetime;
        var notAfter = Min(now + lifetime, _signer.NotAfter);
        var notBefore = Max(now - ClockSkewAllowance, _signer.NotBefore);
        var leaf = CreateLeaf(request.PublicKey, notBefore, notAfter, names => names.AddUri(identity.ToUri()), critical: true);
        var chain = new List<string>(3 + _chainAboveSigner.Length) { leaf.ExportCertificatePem() };
        foreach (var certificate in ChainAboveLeaf())
        {
            chain.Add(certificate.ExportCertificatePem());
        }

        Log.Issued(_logger, expected, notAfter, leaf.SerialNumber);
        leaf.Dispose();
        return chain;
    }

    /// <summary>
    /// Issues the control plane's own TLS certificate (with a fresh key): SANs DNS <c>localhost</c> and the host name,
    /// IP 127.0.0.1 and ::1 (and <paramref name="listenAddress"/> when it is a specific address), and the URI
    /// <c>spiffe://&lt;td&gt;/ns/istio-system/sa/mesh-controlplane</c>; plus <paramref name="dnsNames"/> (the control plane's
    /// Service names in a cluster, which workloads and the API server dial).
    /// </summary>
    internal (X509Certificate2 Certificate, X509Certificate2Collection Intermediates) IssueServerCertificate(
        IPAddress? listenAddress, TimeSpan lifetime, IReadOnlyList<string>? dnsNames = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = _time.GetUtcNow();
        var identity = new SpiffeId(TrustDomain, "istio-system", "mesh-controlplane");
        using var leaf = CreateLeaf(
            new PublicKey(key), Max(now - ClockSkewAllowance, _signer.NotBefore), Min(now + lifetime, _signer.NotAfter), names =>
            {
                names.AddDnsName("localhost");
                foreach (var dnsName in dnsNames ?? [])
                {
                    names.AddDnsName(dnsName);
                }

                if (Uri.CheckHostName(Environment.MachineName) == UriHostNameType.Dns && Environment.MachineName != "localhost")
                {
                    names.AddDnsName(Environment.MachineName.ToLowerInvariant());
                }

                names.AddIpAddress(IPAddress.Loopback);
                names.AddIpAddress(IPAddress.IPv6Loopback);
                if (listenAddress is not null && !listenAddress.Equals(IPAddress.Any) && !listenAddress.Equals(IPAddress.IPv6Any)
                    && !IPAddress.IsLoopback(listenAddress))
                {
                    names.AddIpAddress(listenAddress);
                }

                names.AddUri(identity.ToUri());
            },
            critical: false);
        using var withKey = leaf.CopyWithPrivateKey(key);

        // Round-trip through PKCS#12 so the key is one the platform's TLS stack can use for a server (an ephemeral
        // CopyWithPrivateKey key is not, on Windows); on Linux this is harmless.
        var certificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        var intermediates = new X509Certificate2Collection();
        foreach (var above in ChainAboveLeaf())
        {
            if (!ReferenceEquals(above, RootCertificate))
            {
                intermediates.Add(above);
            }
        }

        return (certificate, intermediates);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _key.Dispose();
        _signer.Dispose();
        RootCertificate.Dispose();
        foreach (var certificate in _chainAboveSigner)
        {
            certificate.Dispose();
        }
    }

    /// <summary>The certificates a leaf's chain continues with: the signer, the intermediates above it, the root.</summary>
    private IEnumerable<X509Certificate2> ChainAboveLeaf()
    {
        if (IsSelfSigned(_signer))
        {
            yield return RootCertificate;
            yield break;
        }

        yield return _signer;
        foreach (var certificate in _chainAboveSigner)
        {
            yield return certificate;
        }

        yield return RootCertificate;
    }

    private X509Certificate2 CreateLeaf(PublicKey publicKey, DateTimeOffset notBefore, DateTimeOffset notAfter, Action<SubjectAlternativeNameBuilder> addNames, bool critical)
    {
        // An empty subject, as Istio issues workload certificates: the identity is the SAN, which is then critical.
        var request = new CertificateRequest(new X500DistinguishedName(string.Empty), publicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], false));
        var names = new SubjectAlternativeNameBuilder();
        addNames(names);
        var san = names.Build(critical);
        request.CertificateExtensions.Add(san);
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(publicKey, false));
        request.CertificateExtensions.Add(_authorityKeyIdentifier);
        return request.Create(_signer.SubjectName, _generator, notBefore, notAfter, NewSerialNumber());
    }

    private const string RsaKeyOid = "1.2.840.113549.1.1.1";
    private const string EcKeyOid = "1.2.840.10045.2.1";
    private const string P256Oid = "1.2.840.10045.3.1.7";
    private const string P384Oid = "1.3.132.0.34";

    /// <summary>Signature algorithms a CSR may be signed with: ECDSA or RSA PKCS#1 v1.5 with SHA-256, -384 or -512.</summary>
    private static readonly Dictionary<string, string> AllowedSignatures = new(StringComparer.Ordinal)
    {
        ["1.2.840.10045.4.3.2"] = "ecdsa-with-SHA256",
        ["1.2.840.10045.4.3.3"] = "ecdsa-with-SHA384",
        ["1.2.840.10045.4.3.4"] = "ecdsa-with-SHA512",
        ["1.2.840.113549.1.1.11"] = "sha256WithRSAEncryption",
        ["1.2.840.113549.1.1.12"] = "sha384WithRSAEncryption",
        ["1.2.840.113549.1.1.13"] = "sha512WithRSAEncryption",
    };

    /// <summary>
    /// Reads the CSR's key algorithm (and curve) and signature algorithm from its DER, and refuses anything but RSA or
    /// ECDSA P-256/P-384 keys signed with SHA-256 or stronger: no Ed25519, no secp256k1, no SHA-1.
    /// </summary>
    private static void CheckAlgorithms(string csrPem)
    {
        byte[] der;
        try
        {
            var fields = PemEncoding.Find(csrPem);
            if (!csrPem.AsSpan()[fields.Label].SequenceEqual("CERTIFICATE REQUEST") && !csrPem.AsSpan()[fields.Label].SequenceEqual("NEW CERTIFICATE REQUEST"))
            {
                throw new CertificateSigningException(false, "the CSR is not a PEM 'CERTIFICATE REQUEST'");
            }

            der = Convert.FromBase64String(csrPem[fields.Base64Data]);
        }
        catch (ArgumentException ex)
        {
            throw new CertificateSigningException(false, "the CSR is not a valid PEM PKCS#10 request: " + ex.Message);
        }
        catch (FormatException ex)
        {
            throw new CertificateSigningException(false, "the CSR is not a valid PEM PKCS#10 request: " + ex.Message);
        }

        string keyAlgorithm, signatureAlgorithm;
        string? curve = null;
        try
        {
            // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }
            // CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo, attributes [0] }
            var request = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var info = request.ReadSequence();
            _ = info.ReadInteger();
            _ = info.ReadEncodedValue(); // subject
            var keyInfo = info.ReadSequence();
            var algorithm = keyInfo.ReadSequence();
            keyAlgorithm = algorithm.ReadObjectIdentifier();
            if (keyAlgorithm == EcKeyOid && algorithm.HasData && algorithm.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
            {
                curve = algorithm.ReadObjectIdentifier();
            }

            signatureAlgorithm = request.ReadSequence().ReadObjectIdentifier();
        }
        catch (AsnContentException ex)
        {
            throw new CertificateSigningException(false, "the CSR is not a valid DER PKCS#10 request: " + ex.Message);
        }

        if (keyAlgorithm == EcKeyOid)
        {
            if (curve is not (P256Oid or P384Oid))
            {
                throw new CertificateSigningException(false, $"the CSR's ECDSA key is on curve {curve ?? "(explicit parameters)"}; P-256 ({P256Oid}) or P-384 ({P384Oid}) is required");
            }
        }
        else if (keyAlgorithm != RsaKeyOid)
        {
            throw new CertificateSigningException(false, $"the CSR's key algorithm {keyAlgorithm} is not supported; the key must be RSA (2048 bits or more) or ECDSA (P-256 or P-384)");
        }

        if (!AllowedSignatures.ContainsKey(signatureAlgorithm))
        {
            throw new CertificateSigningException(false, $"the CSR is signed with {signatureAlgorithm}; it must be signed with SHA-256 or stronger (ECDSA, or RSA PKCS#1 v1.5)");
        }
    }

    private static void CheckPublicKey(PublicKey key)
    {
        using var rsa = key.GetRSAPublicKey();
        if (rsa is not null)
        {
            if (rsa.KeySize < 2048)
            {
                throw new CertificateSigningException(false, $"the CSR's RSA key has {rsa.KeySize} bits; at least 2048 are required");
            }

            return;
        }

        using var ecdsa = key.GetECDsaPublicKey();
        if (ecdsa is null)
        {
            throw new CertificateSigningException(false, "the CSR's key must be RSA (2048 bits or more) or ECDSA (P-256 or P-384)");
        }

        if (ecdsa.KeySize is not (256 or 384))
        {
            throw new CertificateSigningException(false, $"the CSR's ECDSA key has {ecdsa.KeySize} bits; P-256 or P-384 is required");
        }
    }

    /// <summary>Every subject alternative name the CSR asks for, as <c>URI:…</c>, <c>DNS:…</c>, <c>IP:…</c> or <c>other</c>.</summary>
    private static List<string> RequestedNames(CertificateRequest request)
    {
        var names = new List<(SubjectAlternativeNameKind Kind, string Value)>();
        if (!SubjectAlternativeNames.TryRead(request.CertificateExtensions, names))
        {
            throw new CertificateSigningException(false, "the CSR's subject alternative name extension is malformed");
        }

        var described = new List<string>(names.Count);
        foreach (var (kind, value) in names)
        {
            described.Add(kind switch
            {
                SubjectAlternativeNameKind.Uri => "URI:" + value,
                SubjectAlternativeNameKind.Dns => "DNS:" + value,
                SubjectAlternativeNameKind.IPAddress => "IP:" + value,
                _ => "other name",
            });
        }

        return described;
    }

    private static void Generate(string directory, string trustDomain, TimeProvider time)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddOrganizationName(trustDomain);
        subject.AddCommonName("Mesh Root CA");
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = time.GetUtcNow();
        using var root = request.CreateSelfSigned(now - ClockSkewAllowance, now + RootLifetime);
        var certificatePem = Encoding.ASCII.GetBytes(root.ExportCertificatePem() + "\n");

        // Key first: a certificate without its key is reported on the next start; the reverse could not happen silently.
        SecretFiles.TryCreate(Path.Combine(directory, KeyFileName), Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem() + "\n"), secret: true);
        SecretFiles.TryCreate(Path.Combine(directory, CertificateFileName), certificatePem, secret: false);
        SecretFiles.TryCreate(Path.Combine(directory, RootCertificateFileName), certificatePem, secret: false);
    }

    private static CertificateAuthority Load(string directory, string trustDomain, TimeProvider time, ILogger logger)
    {
        var certPath = Path.Combine(directory, CertificateFileName);
        var keyPath = Path.Combine(directory, KeyFileName);
        if (!File.Exists(certPath) || !File.Exists(keyPath))
        {
            throw new InvalidOperationException(
                $"The CA directory '{directory}' has {(File.Exists(certPath) ? CertificateFileName + " but no " + KeyFileName : KeyFileName + " but no " + CertificateFileName)}: " +
                "supply both (a root or intermediate CA certificate and its key), or neither to have a root generated.");
        }

        if (SecretFiles.IsAccessibleByOthers(keyPath))
        {
            Log.KeyTooOpen(logger, keyPath);
        }

        var tokenKeyPath = Path.Combine(directory, JoinTokens.KeyFileName);
        if (File.Exists(tokenKeyPath) && SecretFiles.IsAccessibleByOthers(tokenKeyPath))
        {
            Log.TokenKeyTooOpen(logger, tokenKeyPath);
        }

        if (SecretFiles.IsWritableByOthers(directory))
        {
            Log.DirectoryTooOpen(logger, directory);
        }

        var certificates = ReadCertificates(certPath);
        var signerPublic = certificates[0];
        AsymmetricAlgorithm key;
        X509Certificate2 signer;
        try
        {
            var keyPem = File.ReadAllText(keyPath);
            if (signerPublic.GetECDsaPublicKey() is { } ecdsaPublic)
            {
                ecdsaPublic.Dispose();
                var ecdsa = ECDsa.Create();
                ecdsa.ImportFromPem(keyPem);
                key = ecdsa;
                signer = signerPublic.CopyWithPrivateKey(ecdsa);
            }
            else
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(keyPem);
                key = rsa;
                signer = signerPublic.CopyWithPrivateKey(rsa);
            }
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"The CA key '{keyPath}' cannot be used with '{certPath}': {ex.Message}", ex);
        }

        CheckIsCa(signer, certPath);
        var rootPath = Path.Combine(directory, RootCertificateFileName);
        X509Certificate2 root;
        var above = new List<X509Certificate2>();
        if (IsSelfSigned(signer))
        {
            root = X509CertificateLoader.LoadCertificate(signer.RawData);
        }
        else
        {
            if (!File.Exists(rootPath))
            {
                throw new InvalidOperationException($"'{certPath}' is an intermediate CA certificate, so '{rootPath}' (its root) is required.");
            }

            var roots = ReadCertificates(rootPath);
            root = roots[0];
            var chainPath = Path.Combine(directory, ChainFileName);
            var candidates = new List<X509Certificate2>(certificates.Skip(1));
            if (File.Exists(chainPath))
            {
                candidates.AddRange(ReadCertificates(chainPath));
            }

            foreach (var candidate in candidates)
            {
                // Istio's cert-chain.pem starts with ca-cert.pem and may end with the root: keep only what lies between.
                if (candidate.Thumbprint != signer.Thumbprint && candidate.Thumbprint != root.Thumbprint && above.All(c => c.Thumbprint != candidate.Thumbprint))
                {
                    above.Add(candidate);
                }
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            chain.ChainPolicy.ExtraStore.AddRange(above.ToArray());
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
            if (!chain.Build(signer))
            {
                throw new InvalidOperationException(
                    $"'{certPath}' does not chain to '{rootPath}' (with {ChainFileName}): {string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()))}");
            }
        }

        var authority = new CertificateAuthority(directory, trustDomain, signer, key, [.. above], root, time, logger);
        Log.Loaded(logger, directory, signer.Subject, IsSelfSigned(signer) ? "root" : "intermediate", signer.NotAfter);
        return authority;
    }

    private static void CheckIsCa(X509Certificate2 certificate, string path)
    {
        var basic = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (basic is null || !basic.CertificateAuthority)
        {
            throw new InvalidOperationException($"'{path}' is not a CA certificate (basic constraints CA:TRUE is required).");
        }

        var usage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (usage is not null && (usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0)
        {
            throw new InvalidOperationException($"'{path}' may not sign certificates (its key usage lacks keyCertSign).");
        }
    }

    private static List<X509Certificate2> ReadCertificates(string path)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(path);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException($"'{path}' is not a PEM certificate file: {ex.Message}", ex);
        }

        if (collection.Count == 0)
        {
            throw new InvalidOperationException($"'{path}' holds no PEM certificate.");
        }

        return [.. collection];
    }

    private static bool IsSelfSigned(X509Certificate2 certificate) => certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    private static byte[] NewSerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        serial[0] |= 0x01; // and 16 bytes long
        return serial;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTime b) => a.UtcDateTime < b.ToUniversalTime() ? a : new DateTimeOffset(b.ToUniversalTime());

    private static DateTimeOffset Max(DateTimeOffset a, DateTime b) => a.UtcDateTime > b.ToUniversalTime() ? a : new DateTimeOffset(b.ToUniversalTime());

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Generated a new mesh root CA in {Directory}.")]
        public static partial void RootGenerated(ILogger logger, string directory);

        [LoggerMessage(2, LogLevel.Information, "Certificate authority loaded from {Directory}: {Subject} ({Kind}), valid until {NotAfter:u}.")]
        public static partial void Loaded(ILogger logger, string directory, string subject, string kind, DateTime notAfter);

        [LoggerMessage(3, LogLevel.Warning, "The CA key {Path} is readable or writable by users other than its owner; restrict it to 0600.")]
        public static partial void KeyTooOpen(ILogger logger, string path);

        [LoggerMessage(5, LogLevel.Warning, "The join token key {Path} is readable or writable by users other than its owner, and it can mint a token for any identity; restrict it to 0600.")]
        public static partial void TokenKeyTooOpen(ILogger logger, string path);

        [LoggerMessage(6, LogLevel.Warning, "The CA directory {Directory} is writable by users other than its owner, who could replace the CA's keys; restrict it to 0700.")]
        public static partial void DirectoryTooOpen(ILogger logger, string directory);

        [LoggerMessage(4, LogLevel.Information, "Issued a certificate for {Identity}, valid until {NotAfter:u}, serial {Serial}.")]
        public static partial void Issued(ILogger logger, string identity, DateTimeOffset notAfter, string serial);
    }
}

/// <summary>A CSR was refused; <see cref="Exception.Message"/> says why, in words safe to return to the caller.</summary>
internal sealed class CertificateSigningException(bool permissionDenied, string message) : Exception(message)
{
    /// <summary>True when the CSR asked for an identity the caller did not prove; false when it was malformed.</summary>
    public bool PermissionDenied { get; } = permissionDenied;
}
