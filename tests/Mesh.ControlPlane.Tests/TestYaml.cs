namespace Mesh.ControlPlane.Tests;

/// <summary>YAML used across the control plane tests.</summary>
internal static class TestYaml
{
    public const string ReviewsServiceEntry = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: reviews
          namespace: default
        spec:
          hosts: [reviews.default.svc.cluster.local]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 9080, name: grpc, protocol: GRPC}
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: 20001}, labels: {app: reviews, version: v1}, locality: us-east/zone-a}
          - {address: 127.0.0.2, ports: {grpc: 20002}, labels: {app: reviews, version: v2}, locality: us-east/zone-b}
        """;

    public const string ReviewsDestinationRule = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews
        spec:
          host: reviews
          subsets:
          - name: v1
            labels: {version: v1}
          - name: v2
            labels: {version: v2}
        """;

    public static string ReviewsSplit(int v1, int v2) => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
        spec:
          hosts: [reviews]
          http:
          - route:
            - destination: {host: reviews, subset: v1}
              weight: {{v1}}
            - destination: {host: reviews, subset: v2}
              weight: {{v2}}
        """;

    /// <summary>A one-rule VirtualService for reviews; <paramref name="policy"/> is a flow-style line of the rule, like <c>timeout: 1s</c>.</summary>
    public static string ReviewsRule(string policy) => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
        spec:
          hosts: [reviews]
          http:
          - route:
            - destination: {host: reviews, subset: v1}
            {{policy}}
        """;

    /// <summary>The reviews DestinationRule with <paramref name="trafficPolicy"/> (flow style) for the whole service.</summary>
    public static string ReviewsDestinationRuleWith(string trafficPolicy) =>
        ReviewsDestinationRule.Replace("  subsets:", $"  trafficPolicy: {trafficPolicy}\n  subsets:", StringComparison.Ordinal);

    public static Dictionary<string, string> Reviews(int v1 = 80, int v2 = 20) => new()
    {
        ["reviews-se.yaml"] = ReviewsServiceEntry,
        ["reviews-dr.yaml"] = ReviewsDestinationRule,
        ["reviews-vs.yaml"] = ReviewsSplit(v1, v2),
    };
}
