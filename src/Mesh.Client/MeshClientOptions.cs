namespace Mesh.Client;

/// <summary>Settings of the Mesh client, set in code with <c>AddMesh(o => ...)</c>; checked when the application starts.</summary>
public sealed class MeshClientOptions
{
    /// <summary>The default of <see cref="RetryBufferPerCallSize"/>: 1 MiB, as Grpc.Net.Client's own retry buffer.</summary>
    public const long DefaultRetryBufferPerCallSize = 1024 * 1024;

    /// <summary>
    /// The gRPC xDS bootstrap as JSON. When set it wins over the <c>GRPC_XDS_BOOTSTRAP</c> (a file) and
    /// <c>GRPC_XDS_BOOTSTRAP_CONFIG</c> (inline JSON) environment variables.
    /// </summary>
    public string? BootstrapJson { get; set; }

    /// <summary>
    /// How long an HttpClient request (and the ServiceDiscovery provider) waits for a target's first configuration
    /// before answering with what is known. 15 seconds by default (the xDS does-not-exist timeout); must be positive.
    /// gRPC calls wait within their own deadline instead.
    /// </summary>
    public TimeSpan FirstConfigurationWait { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How many bytes of a call's request body are kept so that the call can be retried (gRFC A6). A call that sends
    /// more before it commits is not retried. 1 MiB by default; must be positive.
    /// </summary>
    public long RetryBufferPerCallSize { get; set; } = DefaultRetryBufferPerCallSize;

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

    /// <summary>What the client measures and sends per call: metrics, spans and trace headers, metadata exchange.</summary>
    public MeshTelemetryOptions Telemetry { get; } = new();
}
