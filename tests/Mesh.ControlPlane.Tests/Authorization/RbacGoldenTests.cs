using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Mesh.ControlPlane.Authorization;
using Mesh.Xds;
using static Mesh.ControlPlane.Tests.Authorization.AuthzYaml;

namespace Mesh.ControlPlane.Tests.Authorization;

/// <summary>
/// Authorization/testassets/&lt;scenario&gt;/input.yaml in, expected.json out: the RBAC HTTP filters for the workload
/// reviews (default, app=reviews, version=v2). Set MESH_UPDATE_GOLDEN=1 to rewrite the expected files after a
/// deliberate change, and review the diff.
/// </summary>
public class RbacGoldenTests
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default));

    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(SourceDirectory(), "testassets")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(dir));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Build_Scenario_MatchesGoldenFile(string scenario)
    {
        var directory = Path.Combine(SourceDirectory(), "testassets", scenario);
        var snapshot = Snapshot(File.ReadAllText(Path.Combine(directory, "input.yaml")));
        var policies = AuthorizationPolicyScope.ForWorkload(snapshot, "default", new Dictionary<string, string> { ["app"] = "reviews", ["version"] = "v2" });

        var filters = new JsonArray();
        foreach (var filter in RbacFilterBuilder.Build(policies, "cluster.local"))
        {
            filters.Add(JsonNode.Parse(Formatter.Format(filter)));
        }

        var actual = filters.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
        var expectedPath = Path.Combine(directory, "expected.json");
        if (Environment.GetEnvironmentVariable("MESH_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(expectedPath, actual);
        }

        Assert.True(File.Exists(expectedPath), $"{expectedPath} is missing; run with MESH_UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(expectedPath).ReplaceLineEndings("\n"), actual);
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
