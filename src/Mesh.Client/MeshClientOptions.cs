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
}
