namespace Mesh.Client.Tests.EndToEnd;

/// <summary>YAML for the end-to-end tests: a "greeter" service whose endpoints are the test's Kestrel backends.</summary>
internal static class MeshYaml
{
    public static string ServiceEntry(GreeterBackends backends, params string[] names) => ServiceEntry(backends.Ports, "grpc", "GRPC", names);

    /// <summary>A ServiceEntry for "greeter" on port 9080 whose endpoints are the given loopback ports, labelled version: name.</summary>
    public static string ServiceEntry(IReadOnlyDictionary<string, int> ports, string portName, string protocol, params string[] names)
    {
        var endpoints = string.Join('\n', names.Select(n =>
            $"  - {{address: 127.0.0.1, ports: {{{portName}: {ports[n]}}}, labels: {{version: {n}}}}}"));
        return $"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {"{"}name: greeter{"}"}
            spec:
              hosts: [greeter.default.svc.cluster.local]
              resolution: STATIC
              ports:
              - {"{"}number: 9080, name: {portName}, protocol: {protocol}{"}"}
              endpoints:
            {endpoints}
            """;
    }

    /// <summary>A VirtualService sending all "greeter" traffic to the service, with the given policy lines.</summary>
    public static string VirtualService(string policy) => $"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {"{"}name: greeter{"}"}
        spec:
          hosts: [greeter]
          http:
          - route:
            - destination: {"{"}host: greeter{"}"}
        {policy}
        """;

    public static string DestinationRule(string trafficPolicy = "", params string[] subsets)
    {
        var list = string.Join('\n', subsets.Select(s => $"  - {{name: {s}, labels: {{version: {s}}}}}"));
        return $"""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {"{"}name: greeter{"}"}
            spec:
              host: greeter
            {trafficPolicy}
              subsets:
            {list}
            """;
    }

    public static string Split(int v1, int v2) => $"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {"{"}name: greeter{"}"}
        spec:
          hosts: [greeter]
          http:
          - route:
            - destination: {"{"}host: greeter, subset: v1{"}"}
              weight: {v1}
            - destination: {"{"}host: greeter, subset: v2{"}"}
              weight: {v2}
        """;

    public const string HeaderMatch = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: greeter}
        spec:
          hosts: [greeter]
          http:
          - match:
            - headers:
                end-user: {exact: jason}
            route:
            - destination: {host: greeter, subset: v2}
          - route:
            - destination: {host: greeter, subset: v1}
        """;

    public static string Bootstrap(Uri xds, string nodeId = "mesh-client-test") => $$$"""
        {
          "xds_servers": [{"server_uri": "{{{xds.Authority}}}", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
          "node": {"id": "{{{nodeId}}}", "cluster": "test", "metadata": {"NAMESPACE": "default"}}
        }
        """;
}
