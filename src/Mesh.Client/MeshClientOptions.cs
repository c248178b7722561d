namespace Mesh.Client;

/// <summary>Settings of the Mesh client, set in code with <c>AddMesh(o => ...)</c>.</summary>
public sealed class MeshClientOptions
{
    /// <summary>
    /// The gRPC xDS bootstrap as JSON. When set it wins over the <c>GRPC_XDS_BOOTSTRAP</c> (a file) and
    /// <c>GRPC_XDS_BOOTSTRAP_CONFIG</c> (inline JSON) environment variables.
    /// </summary>
    public string? BootstrapJson { get; set; }
}
