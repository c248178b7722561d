using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.Authorization;

/// <summary>Builds snapshots from AuthorizationPolicy YAML.</summary>
internal static class AuthzYaml
{
    public static MeshBuildResult Build(string yaml, string file = "authz.yaml")
    {
        var read = YamlResourceReader.Read(yaml, file, "default");
        Assert.Empty(read.Errors);
        return MeshModelBuilder.Build(read.Resources, version: 1);
    }

    public static MeshSnapshot Snapshot(string yaml)
    {
        var result = Build(yaml);
        Assert.Empty(result.Errors);
        return result.Snapshot!;
    }

    /// <summary>An AuthorizationPolicy named <paramref name="name"/> in <paramref name="ns"/> with <paramref name="spec"/> (indented YAML lines).</summary>
    public static string Policy(string name, string spec, string ns = "default") => $"""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: {name}
          namespace: {ns}
        spec:
        {spec}
        """;
}
