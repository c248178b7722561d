using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Mesh.ControlPlane.Tests.Kubernetes;
using Mesh.Testing.Kubernetes;

namespace Mesh.ControlPlane.Tests.Injection;

/// <summary>
/// The whole admission path as a cluster runs it: the MutatingWebhookConfiguration that <c>mesh install</c> prints (its
/// pinned golden file), the leader writing the mesh root into its caBundle through the API, and the fake API server
/// calling the webhook over TLS — trusting only that caBundle — when a pod is created through the API.
/// </summary>
public sealed class InjectionWebhookApiServerTests
{
    private static JsonObject InstalledWebhookConfiguration()
    {
        var golden = File.ReadAllText(Path.Combine(Kubectl.RepositoryRoot, "tests", "Mesh.Cli.Tests", "testassets", "snapshots", "install-default.yaml"));
        var document = golden.Split("---\n").Single(d => d.Contains("\nkind: MutatingWebhookConfiguration\n", StringComparison.Ordinal));
        var typed = KubernetesYaml.Deserialize<V1MutatingWebhookConfiguration>(document);
        return JsonNode.Parse(KubernetesJson.Serialize(typed))!.AsObject();
    }

    [Fact]
    public async Task CreatePod_InjectionNamespace_ApiServerCallsWebhookOverTlsWithTheCaBundleTheLeaderPatched()
    {
        await using var server = await FakeKubernetesApiServer.StartAsync();
        server.Store.Upsert(KubernetesObjects.Namespace("default", new Dictionary<string, string> { ["istio-injection"] = "enabled" }));
        server.Store.Upsert(KubernetesObjects.Namespace("plain"));
        server.Store.Upsert(KubernetesObjects.Namespace("kube-system"));
        var configuration = InstalledWebhookConfiguration();
        Assert.All(configuration["webhooks"]!.AsArray(), w => Assert.Null(w!["clientConfig"]!["caBundle"]));
        server.Store.Upsert(configuration);
        await using var cp = await KubernetesTestControlPlane.StartAsync(server);
        server.Admission.MapService("mesh-system", "mesh-controlplane", 443, new IPEndPoint(IPAddress.Loopback, cp.WebhookAddress.Port));
        var type = server.TypeOf("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration");
        var expected = Convert.ToBase64String(Encoding.ASCII.GetBytes(cp.CertificateAuthority.RootCertificatePem));

        await Eventually.TrueAsync(
            () => server.Store.Get(type, null, "mesh-sidecar-injector")!["webhooks"]!.AsArray().All(w => w!["clientConfig"]!["caBundle"]?.GetValue<string>() == expected),
            "the leader to write the mesh root into every webhook's caBundle", TimeSpan.FromSeconds(30));
        using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
        var deployment = InjectionTestPods.BookinfoDeployments().Single(d => d.Metadata.Name == "reviews-v2");
        var pod = KubernetesJson.Deserialize<V1Pod>(InjectionTestPods.PodOf(deployment).ToJsonString());
        var created = await client.CoreV1.CreateNamespacedPodAsync(pod, "default");

        var call = Assert.Single(server.Admission.Calls);
        Assert.Null(call.Error);
        Assert.True(call.Allowed);
        Assert.True(call.Patched);
        Assert.Equal("namespace.inject.mesh.io", call.Webhook);
        Assert.StartsWith("reviews-v2-7d9f8c6b5-", created.Metadata.Name, StringComparison.Ordinal);
        Assert.Contains(created.Spec.Containers[0].Env, e => e.Name == "GRPC_XDS_BOOTSTRAP_CONFIG");
        Assert.Equal(["mesh-token", "mesh-ca-root"], created.Spec.Volumes.Select(v => v.Name));
        Assert.Contains("\"template\":\"proxyless\"", created.Metadata.Annotations["sidecar.istio.io/status"], StringComparison.Ordinal);
        var stored = server.Store.Get(server.TypeOf("v1", "Pod"), "default", created.Metadata.Name)!;
        Assert.Equal("istio", stored["metadata"]!["labels"]!["security.istio.io/tlsMode"]!.GetValue<string>());

        // A namespace without the label: the API server's namespaceSelector does not call the webhook at all.
        var plain = await client.CoreV1.CreateNamespacedPodAsync(pod, "plain");
        Assert.Single(server.Admission.Calls);
        Assert.Null(plain.Spec.Volumes);

        // failurePolicy: Fail — a pod the webhook refuses is not created unpatched.
        var bad = KubernetesJson.Deserialize<V1Pod>(InjectionTestPods.PodOf(deployment).ToJsonString());
        bad.Metadata.Annotations["inject.mesh.io/template"] = "ambient";
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedPodAsync(bad, "default"));
        Assert.Contains("unknown injection template 'ambient'", JsonNode.Parse(refused.Response.Content)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(2, server.Store.List(server.TypeOf("v1", "Pod")).Count);

        // The root every injected pod mounts, in the namespace's ConfigMap.
        await Eventually.TrueAsync(
            () => server.Store.Get(server.TypeOf("v1", "ConfigMap"), "default", "mesh-ca-root-cert")?["data"]?["root-cert.pem"]?.GetValue<string>() == cp.CertificateAuthority.RootCertificatePem,
            "the leader to publish the mesh root into ConfigMap default/mesh-ca-root-cert", TimeSpan.FromSeconds(30));
        Assert.Null(server.Store.Get(server.TypeOf("v1", "ConfigMap"), "kube-system", "mesh-ca-root-cert"));
    }
}
