using System.Globalization;
using System.Text;

namespace Mesh.LoadHarness;

/// <summary>
/// Generated Istio YAML for the harnesses: per service <c>svcN</c> a ServiceEntry (port 9080, grpc) with endpoints labelled
/// v1/v2, a DestinationRule with those two subsets, and a VirtualService splitting between them — one file each, as a
/// GitOps repository or a ConfigMap per resource would hold them.
/// </summary>
internal static class ScaleYaml
{
    public static void WriteAll(string directory, int services, int endpoints, Func<int, int, int> port)
    {
        Directory.CreateDirectory(directory);
        for (var s = 0; s < services; s++)
        {
            File.WriteAllText(Path.Combine(directory, $"svc{s}-se.yaml"), ServiceEntry(s, endpoints, port));
            File.WriteAllText(Path.Combine(directory, $"svc{s}-dr.yaml"), DestinationRule(s));
            File.WriteAllText(Path.Combine(directory, $"svc{s}-vs.yaml"), VirtualService(s, 90));
        }
    }

    /// <summary>Replaces a file the way editors and ConfigMap updates do: written aside, then renamed over the old one.</summary>
    public static void Replace(string directory, string name, string yaml)
    {
        var temporary = Path.Combine(Path.GetTempPath(), $"mesh-harness-{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, yaml);
        File.Move(temporary, Path.Combine(directory, name), overwrite: true);
    }

    /// <summary>Endpoint <c>e</c> of service <c>s</c> listens on 127.0.0.1 at <paramref name="port"/>(s, e); even endpoints are v1, odd v2.</summary>
    public static string ServiceEntry(int s, int endpoints, Func<int, int, int> port)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $$$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: svc{{{s}}}}
            spec:
              hosts: [svc{{{s}}}.default.svc.cluster.local]
              resolution: STATIC
              ports:
              - {number: 9080, name: grpc, protocol: GRPC}
              endpoints:

            """));
        for (var e = 0; e < endpoints; e++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - {{address: 127.0.0.1, ports: {{grpc: {port(s, e)}}}, labels: {{version: v{1 + (e % 2)}}}}}\n");
        }

        return text.ToString();
    }

    public static string DestinationRule(int s) => string.Create(CultureInfo.InvariantCulture, $$$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: svc{{{s}}}}
        spec:
          host: svc{{{s}}}
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        """);

    public static string VirtualService(int s, int v1Weight) => string.Create(CultureInfo.InvariantCulture, $$$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: svc{{{s}}}}
        spec:
          hosts: [svc{{{s}}}]
          http:
          - route:
            - {destination: {host: svc{{{s}}}, subset: v1}, weight: {{{v1Weight}}}}
            - {destination: {host: svc{{{s}}}, subset: v2}, weight: {{{100 - v1Weight}}}}
        """);
}
