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
}
