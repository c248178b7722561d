using System.ComponentModel.DataAnnotations;

namespace Mesh.ControlPlane;

/// <summary>Settings of the control plane. On the command line: <c>--config-dir</c>, <c>--xds-port</c>, <c>--http-port</c>.</summary>
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
}
