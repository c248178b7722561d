namespace Mesh.Testing.Sidecar;

/// <summary>Where the repository and the tools the sidecar tests use are on this machine.</summary>
public static class RepositoryPaths
{
    /// <summary>The repository root (the directory holding Mesh.sln), found upward from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The official Envoy API protos and their dependencies, published inside @grpc/grpc-js-xds on npm.</summary>
    public static string GrpcJsXdsDeps => Path.Combine(Root, "tests", "interop", "node_modules", "@grpc", "grpc-js-xds", "deps");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mesh.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Mesh.sln not found above " + AppContext.BaseDirectory);
    }
}
