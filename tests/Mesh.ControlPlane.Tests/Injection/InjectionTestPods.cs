using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Mesh.ControlPlane.Injection;
using Mesh.ControlPlane.Tests.Kubernetes;
using Mesh.Testing.Kubernetes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.ControlPlane.Tests.Injection;

/// <summary>Pods as the API server hands them to a webhook: from Bookinfo's Deployments (as the ReplicaSet controller makes them) and a few others.</summary>
internal static class InjectionTestPods
{
    public static readonly string BookinfoManifests = Path.Combine(Kubectl.RepositoryRoot, "samples", "bookinfo", "kubernetes", "bookinfo.yaml");

    /// <summary>Every Deployment of samples/bookinfo/kubernetes/bookinfo.yaml.</summary>
    public static IReadOnlyList<V1Deployment> BookinfoDeployments() =>
        [.. KubernetesYaml.LoadAllFromString(File.ReadAllText(BookinfoManifests)).OfType<V1Deployment>()];

    /// <summary>The pod the ReplicaSet controller creates from <paramref name="deployment"/>: its template, a generateName, an owner, pod-template-hash.</summary>
    public static JsonObject PodOf(V1Deployment deployment, string hash = "7d9f8c6b5") => KubernetesObjects.PodFromDeployment(deployment, hash);

    /// <summary>A Deployment's pod with two init containers (a schema migration and a wait), not annotated: the sidecar template.</summary>
    public static JsonObject PodWithInitContainers()
    {
        var deployment = BookinfoDeployments().Single(d => d.Metadata.Name == "ratings-v1");
        deployment.Spec.Template.Metadata.Annotations = null;
        deployment.Spec.Template.Spec.InitContainers =
        [
            new V1Container { Name = "migrate", Image = "ratings-migrate:1", Args = ["--to", "latest"] },
            new V1Container { Name = "wait-for-db", Image = "busybox:1.36", Command = ["sh", "-c", "until nc -z db 5432; do sleep 1; done"] },
        ];
        return PodOf(deployment);
    }

    public static byte[] Review(JsonObject pod, string @namespace = "default", string uid = "b2a4c1e0-1111-4a2b-9c3d-000000000001") => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["apiVersion"] = "admission.k8s.io/v1",
        ["kind"] = "AdmissionReview",
        ["request"] = new JsonObject
        {
            ["uid"] = uid,
            ["kind"] = new JsonObject { ["group"] = string.Empty, ["version"] = "v1", ["kind"] = "Pod" },
            ["resource"] = new JsonObject { ["group"] = string.Empty, ["version"] = "v1", ["resource"] = "pods" },
            ["namespace"] = @namespace,
            ["operation"] = "CREATE",
            ["userInfo"] = new JsonObject { ["username"] = "system:serviceaccount:kube-system:replicaset-controller" },
            ["object"] = pod.DeepClone(),
            ["dryRun"] = false,
        },
    }.ToJsonString());

    public static AdmissionReviewHandler Handler(InjectionOptions? options = null, Func<string, IReadOnlyDictionary<string, string>?>? namespaces = null) =>
        new(new PodInjector(new InjectionContext(options ?? new InjectionOptions { ServiceNamespace = "mesh-system", Revision = null }, "cluster.local", "cluster.local", "mesh-ca"), namespaces),
            NullLogger.Instance);

    /// <summary>The response's patch applied with a JSON Patch library to <paramref name="pod"/>, read as KubernetesClient's V1Pod; null when the response has no patch.</summary>
    public static (V1Pod? Pod, JsonObject? Json) Apply(JsonObject review, JsonObject pod)
    {
        var response = (JsonObject)review["response"]!;
        if (response["patch"]?.GetValue<string>() is not { } patch)
        {
            return (null, null);
        }

        Assert.Equal("JSONPatch", response["patchType"]?.GetValue<string>());
        var patched = JsonPatch.Apply(pod, Encoding.UTF8.GetString(Convert.FromBase64String(patch)));
        return (KubernetesJson.Deserialize<V1Pod>(patched.ToJsonString()), patched);
    }

    /// <summary>Expands <c>$(VAR)</c> as the kubelet does with the given values.</summary>
    public static string Expand(string value, IReadOnlyDictionary<string, string> variables)
    {
        foreach (var (name, replacement) in variables)
        {
            value = value.Replace("$(" + name + ")", replacement, StringComparison.Ordinal);
        }

        return value;
    }
}
