using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.ControlPlane.Tests.Configuration;

public sealed class YamlDirectorySourceTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mesh-dirsource-" + Guid.NewGuid().ToString("N"));

    public YamlDirectorySourceTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Entry(string name, string host) => $$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: {{name}}
        spec:
          hosts: [{{host}}]
          ports:
          - {number: 80, name: http, protocol: HTTP}
        """;

    private static async Task<(YamlDirectorySource Source, MeshSnapshotProvider Provider)> StartAsync(string directory)
    {
        var source = new YamlDirectorySource(directory, "default", NullLogger<YamlDirectorySource>.Instance);
        var options = new ControlPlaneOptions { DebounceQuiet = TimeSpan.FromMilliseconds(50), DebounceMax = TimeSpan.FromMilliseconds(300) };
        var provider = new MeshSnapshotProvider([source], Options.Create(options), TimeProvider.System, NullLogger<MeshSnapshotProvider>.Instance);
        Assert.True(await provider.StartAsync(CancellationToken.None), string.Join("; ", provider.LastErrors));
        return (source, provider);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 400 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "timed out waiting for " + what);
    }

    private static bool Serves(MeshSnapshotProvider provider, string host) => provider.Current.Services.Values.Any(s => s.Host == host);

    [Fact]
    public async Task DirectoryDeletedAndRecreated_NewFilesAndLaterEdits_AreServed()
    {
        var directory = Path.Combine(_root, "config");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "a.yaml"), Entry("a", "a.example.com"));
        var (source, provider) = await StartAsync(directory);
        using (source)
        using (provider)
        {
            // rm -rf DIR; mkdir DIR; cp good/* DIR/
            Directory.Delete(directory, recursive: true);
            Directory.CreateDirectory(directory);
            await File.WriteAllTextAsync(Path.Combine(directory, "b.yaml"), Entry("b", "b.example.com"));
            await WaitForAsync(() => Serves(provider, "b.example.com"), "the recreated directory's file");
            Assert.False(Serves(provider, "a.example.com"));

            // And the watch on the new directory follows later edits.
            await File.WriteAllTextAsync(Path.Combine(directory, "c.yaml"), Entry("c", "c.example.com"));
            await WaitForAsync(() => Serves(provider, "c.example.com"), "an edit after the directory was replaced");
            Assert.Empty(provider.LastErrors);
        }
    }

    [Fact]
    public async Task ConfigMapMountLayout_EachFileReadOnce_AndDataSwapIsFollowed()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // the layout is made of symbolic links, as the kubelet writes it on Linux.
        }

        // What the kubelet's atomic writer makes: ..<timestamp>/ with the files, ..data -> it, file -> ..data/file.
        var directory = Path.Combine(_root, "configmap");
        Directory.CreateDirectory(directory);
        var first = Path.Combine(directory, "..2026_12_07_10_00_00.000000001");
        Directory.CreateDirectory(first);
        await File.WriteAllTextAsync(Path.Combine(first, "services.yaml"), Entry("a", "a.example.com"));
        Directory.CreateSymbolicLink(Path.Combine(directory, "..data"), Path.GetFileName(first));
        File.CreateSymbolicLink(Path.Combine(directory, "services.yaml"), Path.Combine("..data", "services.yaml"));

        Assert.Equal([Path.Combine(directory, "services.yaml")], YamlDirectorySource.EnumerateYamlFiles(directory));
        var (source, provider) = await StartAsync(directory);
        using (source)
        using (provider)
        {
            Assert.Single(source.Current.Resources);
            Assert.True(Serves(provider, "a.example.com"));

            // An update: a new timestamped directory, ..data_tmp pointing at it renamed over ..data, the old one removed.
            var second = Path.Combine(directory, "..2026_12_07_10_05_00.000000002");
            Directory.CreateDirectory(second);
            await File.WriteAllTextAsync(Path.Combine(second, "services.yaml"), Entry("b", "b.example.com"));
            var temporaryLink = Path.Combine(directory, "..data_tmp");
            Directory.CreateSymbolicLink(temporaryLink, Path.GetFileName(second));
            Rename(temporaryLink, Path.Combine(directory, "..data"));
            Directory.Delete(first, recursive: true);

            await WaitForAsync(() => Serves(provider, "b.example.com"), "the swapped ..data");
            Assert.False(Serves(provider, "a.example.com"));
            Assert.Empty(provider.LastErrors);
        }
    }

    /// <summary>rename(2), which replaces the destination link atomically, as the kubelet does.</summary>
    private static void Rename(string from, string to)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mv", ["-T", "-f", from, to]) { UseShellExecute = false })!;
        Assert.True(process.WaitForExit(10_000));
        Assert.Equal(0, process.ExitCode);
    }
}
