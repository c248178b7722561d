using System.Runtime.CompilerServices;

namespace Mesh.Cli.Tests.Support;

/// <summary>
/// Golden files under testassets/: the test compares its output with the file; with MESH_UPDATE_GOLDEN=1 it writes the
/// file in the source tree instead (review the diff before committing).
/// </summary>
internal static class Golden
{
    public static void AssertMatches(string relativePath, string actual, [CallerFilePath] string callerPath = "")
    {
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);
        var sourcePath = Path.Combine(FindProjectDirectory(callerPath), "testassets", relativePath);
        if (Environment.GetEnvironmentVariable("MESH_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(sourcePath)!);
            File.WriteAllText(sourcePath, actual);
            return;
        }

        var path = Path.Combine(AppContext.BaseDirectory, "testassets", relativePath);
        Assert.True(File.Exists(path), $"golden file {relativePath} is missing; run with MESH_UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal), actual);
    }

    private static string FindProjectDirectory(string callerPath)
    {
        var directory = Path.GetDirectoryName(callerPath);
        while (directory is not null && !File.Exists(Path.Combine(directory, "Mesh.Cli.Tests.csproj")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("cannot find the test project directory from " + callerPath);
    }
}
