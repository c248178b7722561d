namespace Mesh.Gateway.Tests;

/// <summary>The gateway's upstream calls use mutual TLS with the gateway's own workload identity.</summary>
public sealed class GatewayMtlsTests
{
    [Fact]
    public async Task Gateway_StrictBackend_CalledOverMtlsWithTheGatewaysOwnIdentity()
    {
        await using var mesh = new GatewayMesh();
        await mesh.StartControlPlaneAsync(new()
        {
            ["gateway.yaml"] = """
                apiVersion: networking.istio.io/v1
                kind: Gateway
                metadata: {name: gw, namespace: default}
                spec:
                  selector: {istio: ingressgateway}
                  servers:
                  - port: {number: 8080, name: http, protocol: HTTP}
                    hosts: ["*"]
                ---
                apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata: {name: default, namespace: default}
                spec:
                  mtls: {mode: STRICT}
                """,
        });
        var whoami = await mesh.StartMeshBackendAsync("whoami");
        await mesh.ControlPlane!.WriteFileAsync("services.yaml", $$$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: whoami, namespace: default}
            spec:
              hosts: [whoami.default.svc.cluster.local]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 9080, name: http, protocol: HTTP}]
              endpoints:
              - {address: 127.0.0.1, ports: {http: {{{whoami}}} }, labels: {app: whoami}, serviceAccount: whoami}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: whoami, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [gw]
              http:
              - route:
                - destination: {host: whoami, port: {number: 9080}}
            """);
        await mesh.StartGatewayAsync(
            mesh.MeshBootstrap("istio-ingressgateway-1.istio-system", "istio-system", "istio-ingressgateway", """{"istio": "ingressgateway"}""", server: false),
            8080);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        var caller = await GatewayMesh.WaitForStatusAsync(client, mesh.Url(8080, "/whoami"));

        Assert.Equal("spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway", caller);
    }
}
