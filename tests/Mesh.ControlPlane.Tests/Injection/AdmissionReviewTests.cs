using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Mesh.Client.Bootstrap;
using Mesh.ControlPlane.Injection;

namespace Mesh.ControlPlane.Tests.Injection;

/// <summary>
/// The injection webhook's AdmissionReview handling, from real Pod JSON (Bookinfo's Deployments as the ReplicaSet
/// controller turns them into pods): the JSON Patch is applied with a JSON Patch library, the result read as
/// KubernetesClient's V1Pod, and checked for exactly what each template promises.
/// </summary>
public sealed class AdmissionReviewTests
{
    private static readonly Dictionary<string, string> Downward = new(StringComparer.Ordinal)
    {
        ["POD_NAME"] = "reviews-v2-7d9f8c6b5-x2x7q",
        ["POD_NAMESPACE"] = "default",
        ["SERVICE_ACCOUNT"] = "reviews",
        ["INSTANCE_IP"] = "10.1.2.3",
    };

    public static TheoryData<string> BookinfoDeploymentNames() => ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"];

    [Theory]
    [MemberData(nameof(BookinfoDeploymentNames))]
    public void Review_BookinfoPod_ProxylessPatchGivesBootstrapTokenAndRootAndNothingElse(string deploymentName)
    {
        var deployment = InjectionTestPods.BookinfoDeployments().Single(d => d.Metadata.Name == deploymentName);
        var pod = InjectionTestPods.PodOf(deployment);

        var review = InjectionTestPods.Handler().Review(InjectionTestPods.Review(pod));

        var response = (JsonObject)review["response"]!;
        Assert.Equal("admission.k8s.io/v1", review["apiVersion"]!.GetValue<string>());
        Assert.Equal("b2a4c1e0-1111-4a2b-9c3d-000000000001", response["uid"]!.GetValue<string>());
        Assert.True(response["allowed"]!.GetValue<bool>());
        var (injected, _) = InjectionTestPods.Apply(review, pod);
        Assert.NotNull(injected);
        var before = k8s.KubernetesJson.Deserialize<V1Pod>(pod.ToJsonString());

        // No extra container, no init container; the app container keeps what it had.
        var container = Assert.Single(injected.Spec.Containers);
        Assert.Null(injected.Spec.InitContainers);
        Assert.Equal(before.Spec.Containers[0].Image, container.Image);
        Assert.Equal(before.Spec.Containers[0].Args, container.Args);
        Assert.Equal(before.Spec.Containers[0].Ports.Select(p => p.ContainerPort), container.Ports.Select(p => p.ContainerPort));

        // The downward API first, then the bootstrap that refers to it.
        Assert.Equal(["POD_NAME", "POD_NAMESPACE", "SERVICE_ACCOUNT", "INSTANCE_IP", "GRPC_XDS_BOOTSTRAP_CONFIG"], container.Env.Select(e => e.Name));
        Assert.Equal(["metadata.name", "metadata.namespace", "spec.serviceAccountName", "status.podIP"], container.Env.Take(4).Select(e => e.ValueFrom.FieldRef.FieldPath));
        var bootstrapText = InjectionTestPods.Expand(container.Env[4].Value, Downward);
        Assert.DoesNotContain("$(", bootstrapText, StringComparison.Ordinal);
        var parsed = XdsBootstrap.Parse(bootstrapText, "injected");
        var server = Assert.Single(parsed.XdsServers);
        Assert.Equal("mesh-controlplane.mesh-system.svc:15012", server.ServerUri);
        Assert.Equal(XdsServerConfig.TlsCredentials, server.ChannelCredentialsType);
        Assert.Equal("/var/run/secrets/mesh/tokens/mesh-token", server.CallCredentialsTokenFile);
        Assert.Equal("reviews-v2-7d9f8c6b5-x2x7q.default", parsed.Node.Id);
        Assert.Equal("mesh_ca", parsed.CertificateProviders["default"].PluginName);
        var bootstrap = JsonNode.Parse(bootstrapText)!;
        var role = deploymentName[..deploymentName.IndexOf('-', StringComparison.Ordinal)];
        var metadata = bootstrap["node"]!["metadata"]!;
        Assert.Equal("default", metadata["NAMESPACE"]!.GetValue<string>());
        Assert.Equal(deploymentName, metadata["WORKLOAD_NAME"]!.GetValue<string>());
        Assert.Equal(role, metadata["LABELS"]!["app"]!.GetValue<string>());
        Assert.Equal(deploymentName[(role.Length + 1)..], metadata["LABELS"]!["version"]!.GetValue<string>());
        var ca = bootstrap["certificate_providers"]!["default"]!["config"]!;
        Assert.Equal("https://mesh-controlplane.mesh-system.svc:15012", ca["server_uri"]!.GetValue<string>());
        Assert.Equal("/var/run/secrets/mesh/tokens/mesh-token", ca["token_file"]!.GetValue<string>());
        Assert.Equal("/var/run/secrets/mesh/ca/root-cert.pem", ca["ca_certificate_file"]!.GetValue<string>());
        Assert.Equal("reviews", ca["service_account"]!.GetValue<string>());
        Assert.Equal("grpc/server?xds.resource.listening_address=%s", parsed.ServerListenerResourceNameTemplate);

        // The token (our audience, rotated by the kubelet) and the root, mounted read-only.
        Assert.Equal(["mesh-token", "mesh-ca-root"], injected.Spec.Volumes.Select(v => v.Name));
        var token = Assert.Single(injected.Spec.Volumes[0].Projected.Sources).ServiceAccountToken;
        Assert.Equal("mesh-ca", token.Audience);
        Assert.Equal(43200L, token.ExpirationSeconds);
        Assert.Equal("mesh-token", token.Path);
        Assert.Equal("mesh-ca-root-cert", injected.Spec.Volumes[1].ConfigMap.Name);
        Assert.Equal(["/var/run/secrets/mesh/tokens", "/var/run/secrets/mesh/ca"], container.VolumeMounts.Select(m => m.MountPath));
        Assert.All(container.VolumeMounts, m => Assert.True(m.ReadOnlyProperty));

        Assert.Equal("istio", injected.Metadata.Labels["security.istio.io/tlsMode"]);
        Assert.Equal(role, injected.Metadata.Labels["service.istio.io/canonical-name"]);
        var status = JsonNode.Parse(injected.Metadata.Annotations["sidecar.istio.io/status"])!;
        Assert.Equal("proxyless", status["template"]!.GetValue<string>());
        Assert.Equal(["mesh-token", "mesh-ca-root"], status["volumes"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Null(status["containers"]);
    }

    [Fact]
    public void Review_DeploymentWithInitContainers_SidecarTemplateAddsIstioInitFirstAndIstioProxyLast()
    {
        var pod = InjectionTestPods.PodWithInitContainers();

        var review = InjectionTestPods.Handler().Review(InjectionTestPods.Review(pod));

        var (injected, _) = InjectionTestPods.Apply(review, pod);
        Assert.NotNull(injected);
        Assert.Equal(["istio-init", "migrate", "wait-for-db"], injected.Spec.InitContainers.Select(c => c.Name));
        Assert.Equal(["--to", "latest"], injected.Spec.InitContainers[1].Args);
        var init = injected.Spec.InitContainers[0];
        Assert.Equal("docker.io/istio/proxyv2:1.24.2", init.Image);
        Assert.Contains("NET_ADMIN", init.SecurityContext.Capabilities.Add);
        Assert.Equal("15001", init.Args[init.Args.IndexOf("-p") + 1]);
        Assert.Equal("15006", init.Args[init.Args.IndexOf("-z") + 1]);
        Assert.Equal("1337", init.Args[init.Args.IndexOf("-u") + 1]);

        Assert.Equal(["ratings", "istio-proxy"], injected.Spec.Containers.Select(c => c.Name));
        var proxy = injected.Spec.Containers[1];
        Assert.Equal(["proxy", "sidecar"], proxy.Args.Take(2));
        string Env(string name) => proxy.Env.Single(e => e.Name == name).Value;
        Assert.Equal("mesh-controlplane.mesh-system.svc:15012", Env("CA_ADDR"));
        Assert.Equal("mesh-controlplane.mesh-system.svc:15012", JsonNode.Parse(Env("PROXY_CONFIG"))!["discoveryAddress"]!.GetValue<string>());
        Assert.Equal("third-party-jwt", Env("JWT_POLICY"));
        Assert.Equal("ratings-v1", Env("ISTIO_META_WORKLOAD_NAME"));
        Assert.Equal("ratings", Env("ISTIO_META_APP_CONTAINERS"));
        Assert.Equal(9080, JsonNode.Parse(Env("ISTIO_META_POD_PORTS"))![0]!["containerPort"]!.GetValue<int>());
        Assert.Equal("spec.serviceAccountName", proxy.Env.Single(e => e.Name == "SERVICE_ACCOUNT").ValueFrom.FieldRef.FieldPath);
        Assert.Equal(1337L, proxy.SecurityContext.RunAsUser);
        Assert.Equal(15021, int.Parse(proxy.ReadinessProbe.HttpGet.Port.Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(proxy.VolumeMounts, m => m.Name == "istio-token" && m.MountPath == "/var/run/secrets/tokens");
        Assert.Contains(proxy.VolumeMounts, m => m.Name == "istiod-ca-cert" && m.MountPath == "/var/run/secrets/istio");

        var token = injected.Spec.Volumes.Single(v => v.Name == "istio-token").Projected.Sources.Single().ServiceAccountToken;
        Assert.Equal("mesh-ca", token.Audience);
        Assert.Equal("istio-token", token.Path);
        Assert.Equal("mesh-ca-root-cert", injected.Spec.Volumes.Single(v => v.Name == "istiod-ca-cert").ConfigMap.Name);
        Assert.Equal("istio", injected.Metadata.Labels["security.istio.io/tlsMode"]);
        var status = JsonNode.Parse(injected.Metadata.Annotations["sidecar.istio.io/status"])!;
        Assert.Equal(["istio-init"], status["initContainers"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal(["istio-proxy"], status["containers"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal("ratings", injected.Metadata.Annotations["kubectl.kubernetes.io/default-container"]);
    }

    [Fact]
    public void Review_AlreadyInjectedPod_AllowedWithoutPatch()
    {
        var pod = InjectionTestPods.PodOf(InjectionTestPods.BookinfoDeployments()[0]);
        var handler = InjectionTestPods.Handler();
        var (_, once) = InjectionTestPods.Apply(handler.Review(InjectionTestPods.Review(pod)), pod);

        var again = handler.Review(InjectionTestPods.Review(once!));

        Assert.True(again["response"]!["allowed"]!.GetValue<bool>());
        Assert.Null(again["response"]!["patch"]);
    }

    [Fact]
    public void Review_HostNetworkPod_AllowedWithoutPatch()
    {
        var pod = InjectionTestPods.PodOf(InjectionTestPods.BookinfoDeployments()[0]);
        pod["spec"]!["hostNetwork"] = true;

        var review = InjectionTestPods.Handler().Review(InjectionTestPods.Review(pod));

        Assert.True(review["response"]!["allowed"]!.GetValue<bool>());
        Assert.Null(review["response"]!["patch"]);
    }

    [Theory]
    [InlineData("kube-system")]
    [InlineData("kube-public")]
    [InlineData("mesh-system")]
    public void Review_PodInExcludedNamespace_AllowedWithoutPatch(string @namespace)
    {
        var pod = InjectionTestPods.PodOf(InjectionTestPods.BookinfoDeployments()[0]);

        var review = InjectionTestPods.Handler().Review(InjectionTestPods.Review(pod, @namespace));

        Assert.True(review["response"]!["allowed"]!.GetValue<bool>());
        Assert.Null(review["response"]!["patch"]);
    }

    [Theory]
    [InlineData("sidecar.istio.io/inject")]
    [InlineData("mesh.io/inject")]
    public void Review_PodOptsOut_AllowedWithoutPatch(string label)
    {
        var pod = InjectionTestPods.PodOf(InjectionTestPods.BookinfoDeployments()[0]);
        pod["metadata"]!["labels"]![label] = "false";

        var review = InjectionTestPods.Handler().Review(InjectionTestPods.Review(pod));

        Assert.True(review["response"]!["allowed"]!.GetValue<bool>());
        Assert.Null(review["response"]!["patch"]);
    }

    [Fact]
    public void Review_IstioTemplateAnnotationAndNamespaceDefault_ChooseTheTemplate()
    {
        var plain = InjectionTestPods.PodWithInitContainers(); // no annotation
        var istio = InjectionTestPods.PodWithInitContainers();
        istio["metadata"]!["annotations"] = new JsonObject { ["inject.istio.io/templates"] = "grpc-agent" };
        var handler = InjectionTestPods.Handler(namespaces: ns => ns == "dotnet" ? new Dictionary<string, string> { ["mesh.io/inject-template"] = "proxyless" } : null);

        var (fromIstio, _) = InjectionTestPods.Apply(handler.Review(InjectionTestPods.Review(istio)), istio);
        var (fromNamespace, _) = InjectionTestPods.Apply(handler.Review(InjectionTestPods.Review(plain, "dotnet")), plain);
        var (fromDefault, _) = InjectionTestPods.Apply(handler.Review(InjectionTestPods.Review(plain)), plain);

        Assert.DoesNotContain(fromIstio!.Spec.Containers, c => c.Name == "istio-proxy");
        Assert.DoesNotContain(fromNamespace!.Spec.Containers, c => c.Name == "istio-proxy");
        Assert.Contains(fromDefault!.Spec.Containers, c => c.Name == "istio-proxy");
    }

    [Fact]
    public void Review_UnknownTemplate_RefusedNamingTheAnnotation()
    {
        var pod = InjectionTestPods.PodOf(InjectionTestPods.BookinfoDeployments()[0]);
        pod["metadata"]!["annotations"]!["inject.mesh.io/template"] = "ambient";

        var review = InjectionTestPods.Handler().Review(InjectionTestPods.Review(pod));

        AssertRefused(review, "b2a4c1e0-1111-4a2b-9c3d-000000000001", "inject.mesh.io/template: unknown injection template 'ambient'");
    }

    public static TheoryData<string, string, string> BadRequests() => new()
    {
        { "{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"AdmissionRev", string.Empty, "the request body is not JSON" },
        { "[1, 2]", string.Empty, "not an AdmissionReview object" },
        { """{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"a"}]}}}}""", "u1", "expected apiVersion admission.k8s.io/v1" },
        { """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"a"}]}}}}""", string.Empty, "request.uid is missing" },
        { """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}""", string.Empty, "has no request" },
        { """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u2","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"operation":"CREATE","object":{}}}""", "u2", "apps/v1 Deployment: the injection webhook admits v1 Pods only" },
        { """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u3","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE"}}""", "u3", "request.object (the pod) is missing" },
        { """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u4","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"default","object":{"spec":{}}}}""", "u4", "the pod has no spec.containers" },
        { """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u5","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"default","object":{"metadata":{"labels":{}},"spec":{"containers":["a"]}}}}""", "u5", "the pod cannot be read" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void Review_BadRequest_RefusedWithCode400AndAClearMessage(string body, string uid, string expected)
    {
        var review = InjectionTestPods.Handler().Review(Encoding.UTF8.GetBytes(body));

        AssertRefused(review, uid, expected);
    }

    private static void AssertRefused(JsonObject review, string uid, string expected)
    {
        Assert.Equal("admission.k8s.io/v1", review["apiVersion"]!.GetValue<string>());
        Assert.Equal("AdmissionReview", review["kind"]!.GetValue<string>());
        var response = review["response"]!;
        Assert.Equal(uid, response["uid"]!.GetValue<string>());
        Assert.False(response["allowed"]!.GetValue<bool>());
        Assert.Null(response["patch"]);
        Assert.Equal(400, response["status"]!["code"]!.GetValue<int>());
        Assert.Contains(expected, response["status"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
