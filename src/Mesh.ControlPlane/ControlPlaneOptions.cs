using System.ComponentModel.DataAnnotations;

namespace Mesh.ControlPlane;

/// <summary>
/// Settings of the control plane. On the command line: <c>--config-dir</c>, <c>--xds-port</c>, <c>--http-port</c>,
/// <c>--tls-port</c>, <c>--ca-dir</c>, <c>--trust-domain</c>.
/// </summary>
public sealed class ControlPlaneOptions
{
    /// <summary>A directory of YAML resources to serve and watch; when unset, the embedded default configuration is served.</summary>
    public string? ConfigDir { get; set; }

    /// <summary>
    /// Read configuration from Kubernetes (Services, EndpointSlices, Pods and the Istio and Gateway API kinds), with the
    /// in-cluster service account unless <see cref="Kubeconfig"/> names a kubeconfig file. Runs together with
    /// <see cref="ConfigDir"/> when both are set.
    /// </summary>
    public bool Kubernetes { get; set; }

    /// <summary>A kubeconfig file to reach the API server with (its current context); implies <see cref="Kubernetes"/>.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>The plaintext xDS port. Default 15010; 0 picks a free port.</summary>
    [Range(0, 65535)]
    public int XdsPort { get; set; } = 15010;

    /// <summary>The HTTP port for /debug, /healthz and metrics. Default 15014; 0 picks a free port.</summary>
    [Range(0, 65535)]
    public int HttpPort { get; set; } = 15014;

    /// <summary>
    /// The TLS port: xDS over TLS and certificate signing (Istio's <c>IstioCertificateService</c>). Default 15012; 0 picks
    /// a free port.
    /// </summary>
    [Range(0, 65535)]
    public int TlsPort { get; set; } = 15012;

    /// <summary>
    /// The injection webhook's HTTPS port (<c>POST /inject</c>, AdmissionReview v1), served when the control plane reads a
    /// cluster (<see cref="Kubernetes"/>). Default 15017; 0 picks a free port. <c>--webhook-port</c>.
    /// </summary>
    [Range(0, 65535)]
    public int WebhookPort { get; set; } = 15017;

    /// <summary>
    /// The audience a projected ServiceAccount token must be issued for to prove a workload's identity to the CA and on
    /// the TLS port (checked with the TokenReview API). Default <c>mesh-ca</c>, the audience the injected pods' tokens have.
    /// </summary>
    [Required]
    public string ServiceAccountTokenAudience { get; set; } = "mesh-ca";

    /// <summary>
    /// The CA directory: the signing certificate and key (generated on first start when absent) and the join token key.
    /// Default <c>.mesh-ca</c> in the working directory.
    /// </summary>
    public string? CaDir { get; set; }

    /// <summary>The trust domain of workload identities, <c>spiffe://&lt;trust-domain&gt;/ns/…/sa/…</c>. Default <c>cluster.local</c>.</summary>
    [Required]
    public string TrustDomain { get; set; } = "cluster.local";

    /// <summary>The address to listen on. Default 127.0.0.1; use 0.0.0.0 to serve other machines.</summary>
    [Required]
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>The namespace of resources that name none. Default <c>default</c>.</summary>
    [Required]
    public string DefaultNamespace { get; set; } = "default";

    /// <summary>The cluster's DNS suffix. Default <c>cluster.local</c>.</summary>
    [Required]
    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>How long the configuration must be quiet before a change is applied. Default 100 ms.</summary>
    public TimeSpan DebounceQuiet { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest a change waits while more changes keep coming. Default 1 s. Under a steady stream of changes the wait
    /// is shorter: twice the last rebuild's duration, at least a quarter of this.
    /// </summary>
    public TimeSpan DebounceMax { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The address the HTTP port (/debug, /healthz) listens on, separately from <see cref="ListenAddress"/>: the debug
    /// endpoints show RBAC principals, peers and file paths, so they stay on loopback unless asked. Default 127.0.0.1.
    /// </summary>
    [Required]
    public string HttpListenAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Development mode: serve identity-scoped resources (a server's inbound listeners with their mTLS mode and RBAC
    /// rules) to whichever workload a client's node metadata claims, without proof, also on the plaintext port.
    /// Default false: they go only to a client whose proven identity (mesh certificate or join token on the TLS port)
    /// matches the workload. <c>--insecure-identity-from-metadata</c>.
    /// </summary>
    public bool InsecureIdentityFromMetadata { get; set; }

    /// <summary>
    /// How long an HTTP/2 connection to the xDS and TLS ports may be idle before the control plane pings it. Default
    /// 30 s; <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive off.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a keepalive ping may go unanswered before the connection (and its streams) is closed. Default 10 s.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The bounds of every ADS stream (queues, names, node size, send timeout, NACK logging).</summary>
    public Xds.XdsStreamLimits XdsLimits { get; set; } = new();

    /// <summary>
    /// Whether EDS clusters name the control plane as their load reporting server (<c>lrs_server: { self: {} }</c>), so
    /// clients send load reports (LRS) that <c>/debug/loadz</c> shows. Default off. On the command line: <c>--load-reporting</c>.
    /// </summary>
    public bool LoadReporting { get; set; }

    /// <summary>How often the control plane asks clients for load reports. Default 10 s.</summary>
    public TimeSpan LoadReportingInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The CA directory in effect: <see cref="CaDir"/>, or <c>.mesh-ca</c> in the working directory.</summary>
    internal string ResolveCaDir() => Path.GetFullPath(CaDir is { Length: > 0 } dir ? dir : DefaultCaDir);

    /// <summary>The default CA directory, relative to the working directory.</summary>
    internal const string DefaultCaDir = ".mesh-ca";
}
