using System.Text;
using Mesh.ControlPlane.Configuration;
using Mesh.Testing;

namespace Mesh.ControlPlane.Tests.Configuration;

/// <summary>Hostile YAML from the adversarial review: each one must become an error naming the file, never a crash.</summary>
public class YamlResourceReaderTests
{
    private const string ServiceEntryHead = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: evil
        spec:

        """;

    [Fact]
    public void Read_SelfReferencingAnchor_IsAnErrorNamingTheFile()
    {
        var set = YamlResourceReader.Read(ServiceEntryHead + "  hosts: [evil]\n  x: &a [1, *a]\n", "evil.yaml", "default");

        Assert.Empty(set.Resources);
        var error = Assert.Single(set.Errors);
        Assert.StartsWith("evil.yaml:", error.Origin, StringComparison.Ordinal);
        Assert.Contains("recursive alias", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_35000NestedBrackets_IsAnErrorNamingTheFile()
    {
        var text = ServiceEntryHead + "  hosts: " + new string('[', 35_000) + new string(']', 35_000) + "\n";

        var set = YamlResourceReader.Read(text, "deep.yaml", "default");

        var error = Assert.Single(set.Errors);
        Assert.StartsWith("deep.yaml:", error.Origin, StringComparison.Ordinal);
        Assert.Contains("nested more than 64 levels", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NestingOf65_IsRejected_AndOf60_IsAccepted()
    {
        static string Nested(int depth) => ServiceEntryHead + "  hosts: [a]\n  extra: " + new string('[', depth) + new string(']', depth) + "\n";

        // The document's root mapping and 'spec' are two levels; 'extra' adds the rest.
        var tooDeep = YamlResourceReader.Read(Nested(63), "deep.yaml", "default");
        var fine = YamlResourceReader.Read(Nested(58), "ok.yaml", "default");

        Assert.StartsWith("deep.yaml:", Assert.Single(tooDeep.Errors).Origin, StringComparison.Ordinal);
        Assert.Empty(fine.Errors);
        Assert.Single(fine.Resources);
    }

    [Fact]
    public void Read_BillionLaughs_IsRejectedWithoutExpanding()
    {
        // 0.5 KB that would expand to 10^7 leaves: each level is ten aliases of the one before.
        var text = new StringBuilder(ServiceEntryHead).Append("  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (var level = 1; level <= 6; level++)
        {
            text.Append($"  l{level}: &l{level} [").AppendJoin(", ", Enumerable.Repeat($"*l{level - 1}", 10)).Append("]\n");
        }

        Assert.True(text.Length < 1024);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();

        var set = YamlResourceReader.Read(text.ToString(), "laughs.yaml", "default");

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.Empty(set.Resources);
        var error = Assert.Single(set.Errors);
        Assert.StartsWith("laughs.yaml:", error.Origin, StringComparison.Ordinal);
        Assert.Contains("aliases", error.Message, StringComparison.Ordinal);
        Assert.True(allocated < 20 * 1024 * 1024, $"reading allocated {allocated:N0} bytes; the bound is 20 MB");
    }

    [Fact]
    public void Read_FewAliases_AreStillExpanded()
    {
        var set = YamlResourceReader.Read(ServiceEntryHead + "  hosts: &h [a.example.com]\n  addresses: *h\n", "ok.yaml", "default");

        Assert.Empty(set.Errors);
        Assert.Equal("a.example.com", Assert.Single(set.Resources).Body["spec"]!["addresses"]![0]!.GetValue<string>());
    }

    [Fact]
    public void Read_UnclosedFlowSequenceThenKey_IsAnErrorNamingTheFile()
    {
        var set = YamlResourceReader.Read(ServiceEntryHead + "  hosts: [a, b\n  location: MESH_INTERNAL\n", "open.yaml", "default");

        Assert.Empty(set.Resources);
        var error = Assert.Single(set.Errors);
        Assert.StartsWith("open.yaml", error.Origin, StringComparison.Ordinal);
        Assert.Contains("malformed YAML", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_UnclosedFlowSequence_FailsNamingTheFile()
    {
        var bad = ServiceEntryHead + "  hosts: [a, b\n  location: MESH_INTERNAL\n";

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => TestControlPlane.StartAsync(new Dictionary<string, string> { ["open.yaml"] = bad }));

        Assert.Contains("open.yaml", ex.Message, StringComparison.Ordinal);
        Assert.Contains("malformed YAML", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("open.yaml", "  hosts: [a, b\n  location: MESH_INTERNAL\n")]
    [InlineData("deep.yaml", "  hosts: [a]\n  extra: DEEP\n")]
    [InlineData("self.yaml", "  hosts: [a]\n  x: &a [1, *a]\n")]
    public async Task DirectoryUpdate_HostileFile_ConfigzNamesTheFile_AndLastGoodStays(string file, string body)
    {
        await using var controlPlane = await TestControlPlane.StartAsync(new Dictionary<string, string> { ["se.yaml"] = TestYaml.ReviewsServiceEntry });
        var version = (await controlPlane.GetJsonAsync("/debug/configz"))["version"]!.GetValue<long>();

        await controlPlane.WriteFileAsync(file, ServiceEntryHead + body.Replace("DEEP", new string('[', 70) + new string(']', 70), StringComparison.Ordinal));

        string? reported = null;
        for (var i = 0; i < 200 && reported is null; i++)
        {
            var configz = await controlPlane.GetJsonAsync("/debug/configz");
            Assert.Equal(version, configz["version"]!.GetValue<long>());
            reported = configz["errors"]!.AsArray().Select(e => e!.GetValue<string>()).FirstOrDefault(e => e.StartsWith(file, StringComparison.Ordinal));
            await Task.Delay(25);
        }

        Assert.NotNull(reported);
    }
}
