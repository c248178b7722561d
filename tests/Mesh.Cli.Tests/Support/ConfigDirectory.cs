namespace Mesh.Cli.Tests.Support;

/// <summary>A temporary configuration directory: Bookinfo's services and DestinationRules, plus what a test adds.</summary>
internal sealed class ConfigDirectory : IDisposable
{
    public ConfigDirectory(IReadOnlyDictionary<string, string> extraFiles, bool bookinfo = true)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mesh-analyze-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        if (bookinfo)
        {
            File.WriteAllText(System.IO.Path.Combine(Path, "services.yaml"), Repository.BookinfoServiceEntries());
            File.Copy(Repository.PathOf("samples/bookinfo/config/destination-rules.yaml"), System.IO.Path.Combine(Path, "destination-rules.yaml"));
        }

        foreach (var (name, text) in extraFiles)
        {
            File.WriteAllText(System.IO.Path.Combine(Path, name), text);
        }
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
