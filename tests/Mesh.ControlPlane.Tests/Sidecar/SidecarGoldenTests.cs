using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Mesh.Xds;

namespace Mesh.ControlPlane.Tests.Sidecar;

/// <summary>
/// The whole Envoy configuration of Bookinfo's productpage sidecar under jason-v2 and mtls-strict, as JSON, against
/// golden files a human can review (golden/&lt;scenario&gt;.json beside this file). MESH_UPDATE_GOLDEN=1 rewrites them.
/// </summary>
public class SidecarGoldenTests
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default));

    [Theory]
    [InlineData("jason-v2")]
    [InlineData("mtls-strict")]
    public void Translate_ProductpageSidecar_MatchesGoldenFile(string scenario)
    {
        var set = SidecarBookinfo.Productpage(scenario);
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

        var actual = root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
        var path = Path.Combine(SourceDirectory(), "golden", $"productpage-{scenario}.json");
        if (Environment.GetEnvironmentVariable("MESH_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
        }

        Assert.True(File.Exists(path), $"{path} is missing; run with MESH_UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), actual);
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
