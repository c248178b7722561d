using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.Injection;

/// <summary>
/// The proxyless template: no extra container. Every app container gets the downward-API variables <c>POD_NAME</c>,
/// <c>POD_NAMESPACE</c>, <c>SERVICE_ACCOUNT</c>, <c>INSTANCE_IP</c> and then <c>GRPC_XDS_BOOTSTRAP_CONFIG</c>, the gRPC xDS
/// bootstrap, in which the kubelet expands <c>$(POD_NAME)</c> and the others: xDS over TLS to the control plane's Service on
/// 15012 (trusting the mesh root, proving the pod's identity with its projected ServiceAccount token, gRFC A97
/// <c>jwt_token_file</c> call credentials), a node id <c>POD.NAMESPACE</c> with Istio's node metadata, and the <c>mesh_ca</c>
/// certificate provider at the same address with the same token. The pod gets two volumes: the projected token (audience
/// <see cref="InjectionContext.TokenAudience"/>) and the ConfigMap with the mesh root.
/// </summary>
internal static class ProxylessTemplate
{
    public const string TokenVolume = "mesh-token";
    public const string RootVolume = "mesh-ca-root";

    public static readonly string TokenPath = InjectionTemplates.ProxylessTokenDirectory + "/" + InjectionTemplates.ProxylessTokenFile;
    public static readonly string RootPath = InjectionTemplates.ProxylessRootDirectory + "/" + InjectionTemplates.RootCertificateKey;

    public static void Apply(JsonObject pod, PodWorkload workload, InjectionContext context)
    {
        var spec = (JsonObject)pod["spec"]!;
        var bootstrap = Bootstrap(workload, context);
        foreach (var container in ((JsonArray)spec["containers"]!).OfType<JsonObject>())
        {
            var env = new List<JsonObject>
            {
                PodEdits.FieldEnv("POD_NAME", "metadata.name"),
                PodEdits.FieldEnv("POD_NAMESPACE", "metadata.namespace"),
                PodEdits.FieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                PodEdits.FieldEnv("INSTANCE_IP", "status.podIP"),
            };

            // An app that brings its own bootstrap keeps it; it still gets the token and the root to use.
            if (!PodEdits.HasEnv(container, "GRPC_XDS_BOOTSTRAP") && !PodEdits.HasEnv(container, "GRPC_XDS_BOOTSTRAP_CONFIG"))
            {
                env.Add(PodEdits.Env("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap));
            }

            PodEdits.PrependEnv(container, env);
            var mounts = PodEdits.Array(container, "volumeMounts");
            mounts.Add(new JsonObject { ["name"] = TokenVolume, ["mountPath"] = InjectionTemplates.ProxylessTokenDirectory, ["readOnly"] = true });
            mounts.Add(new JsonObject { ["name"] = RootVolume, ["mountPath"] = InjectionTemplates.ProxylessRootDirectory, ["readOnly"] = true });
        }

        var volumes = PodEdits.Array(spec, "volumes");
        volumes.Add(TokenVolumeOf(TokenVolume, InjectionTemplates.ProxylessTokenFile, context));
        volumes.Add(new JsonObject { ["name"] = RootVolume, ["configMap"] = new JsonObject { ["name"] = InjectionTemplates.RootCertificateConfigMap } });

        PodEdits.Annotate(pod, InjectionTemplates.StatusAnnotation,
            PodEdits.Status(InjectionTemplates.Proxyless, context.Options.EffectiveRevision, [], [], [TokenVolume, RootVolume]));
        PodEdits.LabelIfAbsent(pod, InjectionTemplates.TlsModeLabel, "istio");
        PodEdits.LabelIfAbsent(pod, "service.istio.io/canonical-name", workload.CanonicalName);
        PodEdits.LabelIfAbsent(pod, "service.istio.io/canonical-revision", workload.CanonicalRevision);
    }

    /// <summary>A projected ServiceAccount token volume of the mesh's audience.</summary>
    public static JsonObject TokenVolumeOf(string name, string path, InjectionContext context) => new()
    {
        ["name"] = name,
        ["projected"] = new JsonObject
        {
            ["sources"] = new JsonArray(new JsonObject
            {
                ["serviceAccountToken"] = new JsonObject
                {
                    ["audience"] = context.TokenAudience,
                    ["expirationSeconds"] = (long)context.Options.TokenLifetime.TotalSeconds,
                    ["path"] = path,
                },
            }),
        },
    };

    /// <summary>The bootstrap JSON, with <c>$(VAR)</c> references the kubelet expands from the env before it.</summary>
    public static string Bootstrap(PodWorkload workload, InjectionContext context)
    {
        var labels = new JsonObject();
        foreach (var (key, value) in workload.Labels.OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            labels[key] = value;
        }

        var address = context.DiscoveryAddress;
        return new JsonObject
        {
            ["xds_servers"] = new JsonArray(new JsonObject
            {
                ["server_uri"] = address,
                ["channel_creds"] = new JsonArray(new JsonObject
                {
                    ["type"] = "tls",
                    ["config"] = new JsonObject { ["ca_certificate_file"] = RootPath },
                }),
                ["call_creds"] = new JsonArray(new JsonObject
                {
                    ["type"] = "jwt_token_file",
                    ["config"] = new JsonObject { ["jwt_token_file"] = TokenPath },
                }),
                ["server_features"] = new JsonArray("xds_v3"),
            }),
            ["node"] = new JsonObject
            {
                ["id"] = "$(POD_NAME).$(POD_NAMESPACE)",
                ["cluster"] = workload.Name,
                ["metadata"] = new JsonObject
                {
                    ["NAMESPACE"] = "$(POD_NAMESPACE)",
                    ["SERVICE_ACCOUNT"] = "$(SERVICE_ACCOUNT)",
                    ["POD_NAME"] = "$(POD_NAME)",
                    ["INSTANCE_IPS"] = "$(INSTANCE_IP)",
                    ["WORKLOAD_NAME"] = workload.Name,
                    ["CLUSTER_ID"] = context.Options.ClusterId,
                    ["MESH_ID"] = context.TrustDomain,
                    ["LABELS"] = labels,
                },
            },
            ["certificate_providers"] = new JsonObject
            {
                ["default"] = new JsonObject
                {
                    ["plugin_name"] = "mesh_ca",
                    ["config"] = new JsonObject
                    {
                        ["server_uri"] = "https://" + address,
                        ["ca_certificate_file"] = RootPath,
                        ["token_file"] = TokenPath,
                        ["trust_domain"] = context.TrustDomain,
                        ["namespace"] = "$(POD_NAMESPACE)",
                        ["service_account"] = "$(SERVICE_ACCOUNT)",
                    },
                },
            },
            ["server_listener_resource_name_template"] = "grpc/server?xds.resource.listening_address=%s",
        }.ToJsonString();
    }
}
