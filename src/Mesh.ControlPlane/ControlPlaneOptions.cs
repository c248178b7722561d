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

    /// <summary>The longest a change waits while more changes keep coming. Default 1 s.</summary>
    public TimeSpan DebounceMax { get; set; } = TimeSpan.FromSeconds(1);

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
