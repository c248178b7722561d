using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.GatewayApi;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.Tests.GatewayApi;

/// <summary>Gateway API manifests in the words of Istio's Bookinfo tutorials, and helpers that convert and build them.</summary>
internal static class GatewayApiYaml
{
    /// <summary>The Services the routes name: productpage, reviews and its versions, and a gRPC greeter.</summary>
    public const string Services = """
        apiVersion: v1
        kind: Service
        metadata: {name: productpage}
        spec:
          selector: {app: productpage}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: reviews}
        spec:
          selector: {app: reviews}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: reviews-v1}
        spec:
          selector: {app: reviews, version: v1}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: reviews-v2}
        spec:
          selector: {app: reviews, version: v2}
          ports: [{name: http, port: 9080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: greeter}
        spec:
          selector: {app: greeter}
          ports: [{name: grpc, port: 50051, appProtocol: grpc}]
        """;

    /// <summary>Istio's bookinfo-gateway.yaml for the Gateway API: a Gateway on port 80 and an HTTPRoute to productpage.</summary>
    public const string BookinfoGateway = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: bookinfo-gateway}
        spec:
          gatewayClassName: istio
          listeners:
          - name: http
            port: 80
            protocol: HTTP
            allowedRoutes:
              namespaces: {from: Same}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: bookinfo}
        spec:
          parentRefs:
          - name: bookinfo-gateway
          rules:
          - matches:
            - path: {type: Exact, value: /productpage}
            - path: {type: PathPrefix, value: /static}
            - path: {type: Exact, value: /login}
            - path: {type: Exact, value: /logout}
            - path: {type: PathPrefix, value: /api/v1/products}
            backendRefs:
            - name: productpage
              port: 9080
        """;

    public static string Route(string name, string rules, string parent = "{name: bookinfo-gateway}", string? hostnames = null, string ns = "default") => $$"""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: {{name}}, namespace: {{ns}}}
        spec:
          parentRefs: [{{parent}}]
        {{(hostnames is null ? string.Empty : "  hostnames: " + hostnames)}}
          rules:
        {{rules}}
        """;

    /// <summary>A TLS Secret with a self-signed certificate for <paramref name="host"/>.</summary>
    public static string TlsSecret(string name, string host)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + host, key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var crt = System.Convert.ToBase64String(Encoding.UTF8.GetBytes(certificate.ExportCertificatePem()));
        var pem = System.Convert.ToBase64String(Encoding.UTF8.GetBytes(key.ExportPkcs8PrivateKeyPem()));
        return $$"""
            apiVersion: v1
            kind: Secret
            metadata: {name: {{name}}}
            type: kubernetes.io/tls
            data:
              tls.crt: {{crt}}
              tls.key: {{pem}}
            """;
    }

    public static List<ConfigResource> Read(params string[] documents)
    {
        var resources = new List<ConfigResource>();
        for (var i = 0; i < documents.Length; i++)
        {
            var set = YamlResourceReader.Read(documents[i], $"file{i}.yaml", "default");
            Assert.Empty(set.Errors);
            resources.AddRange(set.Resources);
        }

        return resources;
    }

    public static GatewayApiConversion Convert(params string[] documents) => GatewayApiConverter.Convert(Read(documents), "cluster.local");

    public static MeshBuildResult Build(params string[] documents) => MeshModelBuilder.Build(Read(documents), version: 1);
}
