using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// The sidecar template: Istio's own <c>istio-init</c> init container (iptables redirection to 15001/15006, proxy uid
/// 1337) first, and the <c>istio-proxy</c> container (pilot-agent + Envoy) last, configured as Istio's injector configures
/// them but with Mesh.ControlPlane as discovery address and CA (<c>mesh-controlplane.mesh-system.svc:15012</c>). The agent
/// proves the pod's identity with the projected token <c>/var/run/secrets/tokens/istio-token</c> (audience
/// <see cref="InjectionContext.TokenAudience"/>) and trusts the mesh root from <c>/var/run/secrets/istio/root-cert.pem</c>.
/// Unmodified istio-proxy images join the mesh this way.
/// </summary>
internal static class SidecarTemplate
{
    public const string ProxyContainer = "istio-proxy";
    public const string InitContainer = "istio-init";

    private static readonly string[] Volumes =
        ["workload-socket", "credential-socket", "workload-certs", "istio-envoy", "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert"];

    public static void Apply(JsonObject pod, PodWorkload workload, InjectionContext context)
    {
        var spec = (JsonObject)pod["spec"]!;
        var containers = (JsonArray)spec["containers"]!;
        var appContainers = containers.OfType<JsonObject>().Select(c => c["name"]?.GetValue<string>() ?? string.Empty).ToList();
        var ports = new JsonArray();
        foreach (var container in containers.OfType<JsonObject>())
        {
            if (container["ports"] is JsonArray containerPorts)
            {
                foreach (var port in containerPorts)
                {
                    ports.Add(port?.DeepClone());
                }
            }
        }

        var image = context.Options.ProxyImage;
        var initContainers = new JsonArray { Init(image) };
        if (spec["initContainers"] is JsonArray own)
        {
            foreach (var item in own)
            {
                initContainers.Add(item?.DeepClone());
            }
        }

        spec["initContainers"] = initContainers;
        containers.Add(Proxy(image, workload, context, ports, appContainers));

        var volumes = PodEdits.Array(spec, "volumes");
        volumes.Add(EmptyDir("workload-socket"));
        volumes.Add(EmptyDir("credential-socket"));
        volumes.Add(EmptyDir("workload-certs"));
        volumes.Add(new JsonObject { ["name"] = "istio-envoy", ["emptyDir"] = new JsonObject { ["medium"] = "Memory" } });
        volumes.Add(EmptyDir("istio-data"));
        volumes.Add(new JsonObject
        {
            ["name"] = "istio-podinfo",
            ["downwardAPI"] = new JsonObject
            {
                ["items"] = new JsonArray(
                    new JsonObject { ["path"] = "labels", ["fieldRef"] = new JsonObject { ["fieldPath"] = "metadata.labels" } },
                    new JsonObject { ["path"] = "annotations", ["fieldRef"] = new JsonObject { ["fieldPath"] = "metadata.annotations" } }),
            },
        });
        volumes.Add(ProxylessTemplate.TokenVolumeOf("istio-token", "istio-token", context));
        volumes.Add(new JsonObject { ["name"] = "istiod-ca-cert", ["configMap"] = new JsonObject { ["name"] = InjectionTemplates.RootCertificateConfigMap } });

        PodEdits.Annotate(pod, InjectionTemplates.StatusAnnotation,
            PodEdits.Status(InjectionTemplates.Sidecar, context.Options.EffectiveRevision, [InitContainer], [ProxyContainer], Volumes));
        if (appContainers.Count > 0)
        {
            PodEdits.Annotate(pod, "kubectl.kubernetes.io/default-container", appContainers[0]);
            PodEdits.Annotate(pod, "kubectl.kubernetes.io/default-logs-container", appContainers[0]);
        }

        PodEdits.LabelIfAbsent(pod, InjectionTemplates.TlsModeLabel, "istio");
        PodEdits.LabelIfAbsent(pod, "service.istio.io/canonical-name", workload.CanonicalName);
        PodEdits.LabelIfAbsent(pod, "service.istio.io/canonical-revision", workload.CanonicalRevision);
    }

    private static JsonObject EmptyDir(string name) => new() { ["name"] = name, ["emptyDir"] = new JsonObject() };

    private static JsonObject Init(string image) => new()
    {
        ["name"] = InitContainer,
        ["image"] = image,
        ["args"] = new JsonArray("istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", string.Empty, "-b", "*",
            "-d", "15090,15021,15020", "--log_output_level=default:info"),
        ["resources"] = new JsonObject
        {
            ["requests"] = new JsonObject { ["cpu"] = "10m", ["memory"] = "40Mi" },
            ["limits"] = new JsonObject { ["cpu"] = "2", ["memory"] = "1Gi" },
        },
        ["securityContext"] = new JsonObject
        {
            ["allowPrivilegeEscalation"] = false,
            ["privileged"] = false,
            ["readOnlyRootFilesystem"] = false,
            ["runAsGroup"] = 0,
            ["runAsNonRoot"] = false,
            ["runAsUser"] = 0,
            ["capabilities"] = new JsonObject { ["add"] = new JsonArray("NET_ADMIN", "NET_RAW"), ["drop"] = new JsonArray("ALL") },
        },
    };

    private static JsonObject Proxy(string image, PodWorkload workload, InjectionContext context, JsonArray ports, List<string> appContainers)
    {
        var discovery = context.DiscoveryAddress;
        var proxyConfig = new JsonObject
        {
            ["discoveryAddress"] = discovery,
            ["proxyMetadata"] = new JsonObject(),
        }.ToJsonString();
        var env = new JsonArray(
            PodEdits.Env("PILOT_CERT_PROVIDER", "istiod"),
            PodEdits.Env("CA_ADDR", discovery),
            PodEdits.Env("JWT_POLICY", "third-party-jwt"),
            PodEdits.FieldEnv("POD_NAME", "metadata.name"),
            PodEdits.FieldEnv("POD_NAMESPACE", "metadata.namespace"),
            PodEdits.FieldEnv("INSTANCE_IP", "status.podIP"),
            PodEdits.FieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
            PodEdits.FieldEnv("HOST_IP", "status.hostIP"),
            PodEdits.Env("ISTIO_CPU_LIMIT", "0"),
            PodEdits.Env("PROXY_CONFIG", proxyConfig),
            PodEdits.Env("ISTIO_META_POD_PORTS", ports.ToJsonString()),
            PodEdits.Env("ISTIO_META_APP_CONTAINERS", string.Join(',', appContainers)),
            PodEdits.Env("GOMEMLIMIT", "1073741824"),
            PodEdits.Env("ISTIO_META_CLUSTER_ID", context.Options.ClusterId),
            PodEdits.FieldEnv("ISTIO_META_NODE_NAME", "spec.nodeName"),
            PodEdits.Env("ISTIO_META_INTERCEPTION_MODE", "REDIRECT"),
            PodEdits.Env("ISTIO_META_WORKLOAD_NAME", workload.Name),
            PodEdits.Env("ISTIO_META_OWNER", $"kubernetes://apis/apps/v1/namespaces/{workload.Namespace}/deployments/{workload.Name}"),
            PodEdits.Env("ISTIO_META_MESH_ID", context.TrustDomain),
            PodEdits.Env("TRUST_DOMAIN", context.TrustDomain));
        return new JsonObject
        {
            ["name"] = ProxyContainer,
            ["image"] = image,
            ["args"] = new JsonArray("proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc." + context.ClusterDomain, "--proxyLogLevel=warning",
                "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"),
            ["env"] = env,
            ["ports"] = new JsonArray(new JsonObject { ["containerPort"] = 15090, ["name"] = "http-envoy-prom", ["protocol"] = "TCP" }),
            ["readinessProbe"] = new JsonObject
            {
                ["httpGet"] = new JsonObject { ["path"] = "/healthz/ready", ["port"] = 15021 },
                ["initialDelaySeconds"] = 0,
                ["periodSeconds"] = 15,
                ["timeoutSeconds"] = 3,
                ["failureThreshold"] = 4,
            },
            ["resources"] = new JsonObject
            {
                ["requests"] = new JsonObject { ["cpu"] = "100m", ["memory"] = "128Mi" },
                ["limits"] = new JsonObject { ["cpu"] = "2", ["memory"] = "1Gi" },
            },
            ["securityContext"] = new JsonObject
            {
                ["allowPrivilegeEscalation"] = false,
                ["privileged"] = false,
                ["readOnlyRootFilesystem"] = true,
                ["runAsGroup"] = 1337,
                ["runAsNonRoot"] = true,
                ["runAsUser"] = 1337,
                ["capabilities"] = new JsonObject { ["drop"] = new JsonArray("ALL") },
            },
            ["volumeMounts"] = new JsonArray(
                Mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"),
                Mount("credential-socket", "/var/run/secrets/credential-uds"),
                Mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials"),
                Mount("istiod-ca-cert", "/var/run/secrets/istio", readOnly: true),
                Mount("istio-data", "/var/lib/istio/data"),
                Mount("istio-envoy", "/etc/istio/proxy"),
                Mount("istio-token", "/var/run/secrets/tokens", readOnly: true),
                Mount("istio-podinfo", "/etc/istio/pod")),
        };
    }

    private static JsonObject Mount(string name, string path, bool readOnly = false)
    {
        var mount = new JsonObject { ["name"] = name, ["mountPath"] = path };
        if (readOnly)
        {
            mount["readOnly"] = true;
        }

        return mount;
    }
}
