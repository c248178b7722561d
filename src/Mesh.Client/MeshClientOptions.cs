namespace Mesh.Client;

/// <summary>Settings of the Mesh client, set in code with <c>AddMesh(o => ...)</c>.</summary>
public sealed class MeshClientOptions
{
    /// <summary>
    /// The gRPC xDS bootstrap as JSON. When set it wins over the <c>GRPC_XDS_BOOTSTRAP</c> (a file) and
    /// <c>GRPC_XDS_BOOTSTRAP_CONFIG</c> (inline JSON) environment variables.
    /// </summary>
    public string? BootstrapJson { get; set; }

    /// <summary>
    /// A directory where the client persists every xDS resource it accepts, and from which it serves when it starts
    /// while the control plane cannot be reached (see docs/reliability.md). Null (the default) reads the
    /// <c>MESH_XDS_CACHE_DIR</c> environment variable; when that is unset too, nothing is persisted.
    /// </summary>
    public string? CacheDirectory { get; set; }

    /// <summary>
    /// How long the connection to the xDS server may be idle before an HTTP/2 keepalive PING checks it; a frozen or
    /// vanished server is then noticed within this plus <see cref="XdsKeepAliveTimeout"/>. 30 s by default.
    /// </summary>
    public TimeSpan XdsKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a keepalive PING may go unanswered before the xDS connection is closed. 10 s by default.</summary>
    public TimeSpan XdsKeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
