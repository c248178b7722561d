namespace Mesh.Cli.Tests.Support;

/// <summary>Files of the repository the tests read: the Bookinfo sample's configuration and scenarios.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>The ServiceEntries of the control plane's embedded Bookinfo configuration (where each service listens).</summary>
    public static string BookinfoServiceEntries()
    {
        var text = File.ReadAllText(PathOf("src/Mesh.ControlPlane/DefaultConfig/bookinfo.yaml"));
        return string.Join("---\n", text.Split("\n---\n").Where(d => d.Contains("kind: ServiceEntry", StringComparison.Ordinal)).Select(d => d.Trim() + "\n"));
    }

    private static string FindRoot()
    {
        var directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Mesh.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("cannot find Mesh.sln above " + AppContext.BaseDirectory);
    }
}
