using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Envoy.Config.Listener.V3;
using Google.Protobuf;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Security;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;
using FilterRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace Mesh.Fuzz;

/// <summary>
/// The seed corpus, made from what the mesh really reads: the embedded Bookinfo configuration and a configuration that
/// exercises security, routing and traffic policy (plus any YAML files given, e.g. the test assets and the samples),
/// translated by the control plane into the Listener, RouteConfiguration, Cluster and ClusterLoadAssignment bytes the
/// client decodes and the RBAC filter configs the server compiles; bootstraps like the samples'; CSRs of every accepted
/// and some refused key types; join tokens from the fuzz run's CA.
/// </summary>
internal static class SeedCorpus
{
    private const string SecureConfig = """
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
          - {address: 127.0.0.1, ports: {grpc: 20001}, labels: {app: reviews, version: v1}, serviceAccount: reviews, locality: us/east/a}
          - {address: 127.0.0.2, ports: {grpc: 20002}, labels: {app: reviews, version: v2}, serviceAccount: reviews, weight: 3}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          trafficPolicy:
            tls: {mode: ISTIO_MUTUAL}
            loadBalancer: {consistentHash: {httpHeaderName: end-user}}
            outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 10s, maxEjectionPercent: 50}
            connectionPool: {http: {http2MaxRequests: 100}}
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews]
          http:
          - match:
            - headers: {end-user: {exact: jason}}
              uri: {prefix: /reviews.Reviews/}
            - headers: {x-canary: {regex: "v[0-9]+"}}
            fault: {abort: {percentage: {value: 10}, grpcStatus: UNAVAILABLE}, delay: {percentage: {value: 5}, fixedDelay: 1s}}
            route:
            - {destination: {host: reviews, subset: v2}}
            headers: {request: {set: {x-routed: "yes"}}}
          - route:
            - {destination: {host: reviews, subset: v1}, weight: 80}
            - {destination: {host: reviews, subset: v2}, weight: 20}
            retries: {attempts: 3, retryOn: "unavailable,cancelled", perTryTimeout: 2s}
            timeout: 10s
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          mtls: {mode: STRICT}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          action: ALLOW
          rules:
          - from:
            - source: {principals: [cluster.local/ns/default/sa/productpage], notNamespaces: [test]}
            to:
            - operation: {methods: [POST], paths: ["/reviews.Reviews/*"], notPorts: ["8080"]}
            when:
            - {key: "request.headers[end-user]", values: [jason, "admin*"]}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: deny-test, namespace: default}
        spec:
          action: DENY
          rules:
          - from:
            - source: {ipBlocks: [10.0.0.0/8], notPrincipals: ["*/sa/admin"]}
        """;

    private static readonly string[] Bootstraps =
    [
        """{"xds_servers":[{"server_uri":"127.0.0.1:15010","channel_creds":[{"type":"insecure"}],"server_features":["xds_v3"]}],"node":{"id":"reviews-v1.default","cluster":"c","metadata":{"NAMESPACE":"default","LABELS":{"app":"reviews","version":"v1"}},"locality":{"region":"us","zone":"a"}}}""",
        """{"xds_servers":[{"server_uri":"127.0.0.1:15012","channel_creds":[{"type":"tls","config":{"ca_certificate_file":"/tmp/root.pem"}},{"type":"insecure"}],"server_features":["xds_v3","ignore_resource_deletion"]},{"server_uri":"127.0.0.1:15011","channel_creds":[{"type":"google_default"},{"type":"insecure"}]}],"node":{"id":"n"},"certificate_providers":{"default":{"plugin_name":"mesh_ca","config":{"server_uri":"https://127.0.0.1:15012","ca_certificate_file":"/tmp/root.pem","token":"eyJ0ZCI6ImNsdXN0ZXIubG9jYWwiLCJucyI6ImRlZmF1bHQiLCJzYSI6InIiLCJleHAiOjEsImp0aSI6IngifQ.AAAA","certificate_lifetime":"20s","key_type":"RSA"}},"files":{"plugin_name":"file_watcher","config":{"certificate_file":"/c.pem","private_key_file":"/k.pem","ca_certificate_file":"/r.pem","refresh_interval":"10s"}}},"server_listener_resource_name_template":"grpc/server?xds.resource.listening_address=%s","client_default_listener_resource_name_template":"xdstp://a/envoy.config.listener.v3.Listener/%s","authorities":{"a":{"xds_servers":[{"server_uri":"b:1","channel_creds":[{"type":"insecure"}]}]}}}""",
        """{"xds_servers":[],"node":{"id":"","metadata":{"k":[1,2.5,null,true,{"x":""}]}}}""",
    ];

    /// <summary>Seeds per target, with file names.</summary>
    public static Dictionary<string, List<(string Name, byte[] Data)>> Generate(IEnumerable<string> yamlFiles)
    {
        var seeds = FuzzTargets.All.Keys.ToDictionary(k => k, _ => new List<(string, byte[])>(), StringComparer.Ordinal);
        var yamlSources = new List<(string Name, string Text)> { ("secure.yaml", SecureConfig) };
        var embedded = typeof(EmbeddedConfigSource).Assembly;
        foreach (var name in embedded.GetManifestResourceNames().Where(n => n.EndsWith(".yaml", StringComparison.Ordinal)))
        {
            using var reader = new StreamReader(embedded.GetManifestResourceStream(name)!);
            yamlSources.Add(("embedded-" + Path.GetFileName(name), reader.ReadToEnd()));
        }

        foreach (var file in yamlFiles)
        {
            yamlSources.Add((Path.GetFileName(file), File.ReadAllText(file)));
        }

        foreach (var (name, text) in yamlSources)
        {
            seeds["yaml"].Add((name, Encoding.UTF8.GetBytes(text)));
        }

        foreach (var (name, text) in yamlSources.Take(2))
        {
            AddTranslated(seeds, name, text);
        }

        for (var i = 0; i < Bootstraps.Length; i++)
        {
            seeds["bootstrap"].Add(($"bootstrap-{i}.json", Encoding.UTF8.GetBytes(Bootstraps[i])));
        }

        AddCsrs(seeds["csr"]);
        var authority = FuzzTargets.Authority.Value;
        seeds["token"].Add(("token-fuzz", Encoding.UTF8.GetBytes(authority.CreateJoinToken("default", "fuzz", TimeSpan.FromHours(1)))));
        seeds["token"].Add(("token-expired", Encoding.UTF8.GetBytes(CertificateAuthority.CreateJoinToken(authority.Directory, new SpiffeId("cluster.local", "default", "fuzz"), DateTimeOffset.UtcNow.AddMinutes(-5)))));
        return seeds;
    }

    /// <summary>Writes the seeds to <paramref name="directory"/>/TARGET/NAME.</summary>
    public static void Write(string directory, Dictionary<string, List<(string Name, byte[] Data)>> seeds)
    {
        foreach (var (target, list) in seeds)
        {
            var folder = Path.Combine(directory, target);
            Directory.CreateDirectory(folder);
            foreach (var (name, data) in list)
            {
                File.WriteAllBytes(Path.Combine(folder, name), data);
            }
        }
    }

    private static void AddTranslated(Dictionary<string, List<(string Name, byte[] Data)>> seeds, string source, string yaml)
    {
        var set = YamlResourceReader.Read(yaml, source, "default");
        var built = MeshModelBuilder.Build(set.Resources, 1);
        if (source == "secure.yaml")
        {
            // The seeds' own configuration must be valid, or the translated seeds miss what it was written for.
            foreach (var error in set.Errors.Concat(built.Errors))
            {
                Console.Error.WriteLine($"seed configuration {source}: {error}");
            }
        }

        if (built.Snapshot is not { } snapshot)
        {
            return;
        }

        var resources = ProxylessTranslator.Translate(snapshot);
        (string Target, string TypeUrl)[] types =
        [
            ("listener", XdsTypeUrls.Listener), ("route", XdsTypeUrls.RouteConfiguration),
            ("cluster", XdsTypeUrls.Cluster), ("endpoints", XdsTypeUrls.ClusterLoadAssignment),
        ];
        var stem = Path.GetFileNameWithoutExtension(source);
        foreach (var (target, typeUrl) in types)
        {
            var i = 0;
            foreach (var resource in resources.Of(typeUrl).Values.OrderBy(r => r.Name, StringComparer.Ordinal).Take(12))
            {
                seeds[target].Add(($"{stem}-{i++}", resource.Packed.Value.ToByteArray()));
            }
        }

        // Server-side (inbound) listeners with their mTLS chains and RBAC filters, as a workload of reviews gets them.
        var workload = new ClientWorkload("default", ImmutableSortedDictionary<string, string>.Empty.Add("app", "reviews").Add("version", "v1"));
        var name = XdsSecurityNames.ServerListenerName("127.0.0.1", 20001);
        if (resources.Find(XdsTypeUrls.Listener, name, workload)?.Message is Listener inbound)
        {
            seeds["listener"].Add(($"{stem}-inbound", inbound.ToByteArray()));
            var r = 0;
            foreach (var chain in inbound.FilterChains)
            {
                foreach (var filter in chain.Filters)
                {
                    var hcm = filter.TypedConfig.Unpack<Hcm.HttpConnectionManager>();
                    foreach (var http in hcm.HttpFilters.Where(f => f.TypedConfig?.Is(FilterRbac.Descriptor) == true))
                    {
                        seeds["rbac"].Add(($"{stem}-rbac-{r++}", http.TypedConfig.Unpack<FilterRbac>().ToByteArray()));
                    }
                }
            }
        }
    }

    private static void AddCsrs(List<(string Name, byte[] Data)> seeds)
    {
        var identity = new Uri("spiffe://cluster.local/ns/default/sa/fuzz");
        void Add(string name, CertificateRequest request, Action<SubjectAlternativeNameBuilder> names, Func<CertificateRequest, byte[]> sign)
        {
            var sans = new SubjectAlternativeNameBuilder();
            names(sans);
            request.CertificateExtensions.Add(sans.Build(critical: true));
            seeds.Add((name, Encoding.ASCII.GetBytes(PemEncoding.WriteString("CERTIFICATE REQUEST", sign(request)))));
        }

        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        Add("p256.csr", new CertificateRequest("CN=fuzz", p256, HashAlgorithmName.SHA256), n => n.AddUri(identity), r => r.CreateSigningRequest());
        Add("p384.csr", new CertificateRequest(string.Empty, p384, HashAlgorithmName.SHA384), n => n.AddUri(identity), r => r.CreateSigningRequest());
        Add("rsa.csr", new CertificateRequest("CN=fuzz", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), n => n.AddUri(identity), r => r.CreateSigningRequest());
        Add("two-names.csr", new CertificateRequest("CN=fuzz", p256, HashAlgorithmName.SHA256), n =>
        {
            n.AddUri(identity);
            n.AddDnsName("fuzz.default.svc");
        }, r => r.CreateSigningRequest());
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        Add("p521.csr", new CertificateRequest("CN=fuzz", p521, HashAlgorithmName.SHA512), n => n.AddUri(identity), r => r.CreateSigningRequest());
        Add("dns-only.csr", new CertificateRequest("CN=fuzz", p256, HashAlgorithmName.SHA256), n => n.AddDnsName("fuzz"), r => r.CreateSigningRequest());
    }
}
