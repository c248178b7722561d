using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Translation;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Translation;

/// <summary>
/// testassets/&lt;scenario&gt;/input.yaml in, expected.json out: every resource the proxyless translator makes, by
/// type and name. Set MESH_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, and review
/// the diff.
/// </summary>
public class GoldenTests
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default));

    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "testassets")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(dir));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Translate_Scenario_MatchesGoldenFile(string scenario)
    {
        var input = Path.Combine(AppContext.BaseDirectory, "testassets", scenario, "input.yaml");
        var read = YamlResourceReader.Read(File.ReadAllText(input), "input.yaml", "default");
        Assert.Empty(read.Errors);
        var built = MeshModelBuilder.Build(read.Resources, version: 1);
        Assert.Empty(built.Errors);

        var actual = Render(ProxylessTranslator.Translate(built.Snapshot!));

        var expectedPath = Path.Combine(SourceDirectory(), "testassets", scenario, "expected.json");
        if (Environment.GetEnvironmentVariable("MESH_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(expectedPath, actual);
        }

        Assert.True(File.Exists(expectedPath), $"{expectedPath} is missing; run with MESH_UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(expectedPath).ReplaceLineEndings("\n"), actual);
    }

    private static string Render(XdsResourceSet set)
    {
        var root = new JsonObject();
        foreach (var (key, typeUrl) in new[]
        {
            ("listeners", XdsTypeUrls.Listener), ("routes", XdsTypeUrls.RouteConfiguration),
            ("clusters", XdsTypeUrls.Cluster), ("endpoints", XdsTypeUrls.ClusterLoadAssignment),
        })
        {
            var list = new JsonArray();
            foreach (var resource in set.Of(typeUrl).Values.OrderBy(r => r.Name, StringComparer.Ordinal))
            {
                list.Add(JsonNode.Parse(Formatter.Format(resource.Packed)));
            }

            root[key] = list;
        }

        return root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(Path.GetDirectoryName(path))!;
}
