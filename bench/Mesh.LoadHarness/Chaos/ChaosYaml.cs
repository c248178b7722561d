using System.Globalization;
using System.Text;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// The configuration of the chaos run: service <c>echo</c> (port 9080, gRPC) whose endpoints are the backend processes
/// (even ones version v1, odd ones v2, service account <c>echo</c>), subsets v1/v2, and a VirtualService that retries
/// UNAVAILABLE 3 times — over all endpoints normally, split by weight between the subsets while config is flooded.
/// Files are replaced the way editors and ConfigMap updates do: written aside, then renamed over the old one.
/// </summary>
internal static class ChaosYaml
{
    public const string ServiceEntryFile = "echo-se.yaml";
    public const string DestinationRuleFile = "echo-dr.yaml";
    public const string VirtualServiceFile = "echo-vs.yaml";
    public const string PeerAuthenticationFile = "mtls.yaml";

    /// <summary>Invalid input a control plane must refuse while it keeps serving the last good configuration.</summary>
    public static readonly (string File, string Yaml)[] Rogue =
    [
        // malformed: an unclosed flow sequence followed by another key
        ("rogue-malformed.yaml", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: rogue1}\nspec:\n  hosts: [a, b\n  location: MESH_EXTERNAL\n"),

        // an alias inside the node it refers to (a crash loop before issue 18)
        ("rogue-alias.yaml", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: rogue2}\nspec:\n  x: &a [1, *a]\n"),

        // well-formed YAML, invalid resource: a route to the echo host with a weight and a retry policy out of range
        ("rogue-invalid.yaml", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: rogue3}
            spec:
              hosts: [echo]
              http:
              - route:
                - {destination: {host: echo, subset: v1}, weight: -5}
                retries: {attempts: -3, perTryTimeout: banana}
            """),
    ];

    public static string ServiceEntry(IReadOnlyList<int> ports)
    {
        var text = new StringBuilder("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: echo, namespace: default}
            spec:
              hosts: [echo.default.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports:
              - {number: 9080, name: grpc, protocol: GRPC}
              endpoints:

            """);
        for (var e = 0; e < ports.Count; e++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  - {{address: 127.0.0.1, ports: {{grpc: {ports[e]}}}, labels: {{app: echo, version: {Version(e)}}}, serviceAccount: echo}}\n");
        }

        return text.ToString();
    }

    /// <summary>Backend <paramref name="index"/>'s version: even v1, odd v2.</summary>
    public static string Version(int index) => index % 2 == 0 ? "v1" : "v2";

    public static string DestinationRule(bool mutualTls) => DestinationRuleText.Replace("TRAFFIC_POLICY\n", mutualTls ? "  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n" : string.Empty, StringComparison.Ordinal);

    private const string DestinationRuleText = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: echo, namespace: default}
        spec:
          host: echo
        TRAFFIC_POLICY
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        """;

    /// <summary>The VirtualService: over all endpoints (<paramref name="v1Weight"/> null) or split between the subsets.</summary>
    public static string VirtualService(int? v1Weight) => v1Weight is not { } w
        ? """
          apiVersion: networking.istio.io/v1
          kind: VirtualService
          metadata: {name: echo, namespace: default}
          spec:
            hosts: [echo]
            http:
            - route:
              - {destination: {host: echo}}
              retries: {attempts: 3, retryOn: unavailable}
          """
        : string.Create(CultureInfo.InvariantCulture, $$"""
          apiVersion: networking.istio.io/v1
          kind: VirtualService
          metadata: {name: echo, namespace: default}
          spec:
            hosts: [echo]
            http:
            - route:
              - {destination: {host: echo, subset: v1}, weight: {{w}}}
              - {destination: {host: echo, subset: v2}, weight: {{100 - w}}}
              retries: {attempts: 3, retryOn: unavailable}
          """);

    /// <summary>Namespace-wide PERMISSIVE: servers accept mTLS (with their CA certificate) and plaintext.</summary>
    public const string PeerAuthenticationPermissive = """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: default}
        spec:
          mtls: {mode: PERMISSIVE}
        """;
}
