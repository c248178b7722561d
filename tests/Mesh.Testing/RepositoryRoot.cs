namespace Mesh.Testing;

/// <summary>Where the repository is (the directory with Mesh.sln above the test binaries), and the build configuration.</summary>
public static class RepositoryRoot
{
    /// <summary>The directory holding Mesh.sln.</summary>
    public static string Path { get; } = Find();

    /// <summary>The configuration these binaries were built in (the one test.sh builds).</summary>
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Mesh.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Mesh.sln not found above " + AppContext.BaseDirectory);
    }
}
