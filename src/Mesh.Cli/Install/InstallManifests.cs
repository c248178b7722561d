using System.Text.Json.Nodes;

namespace Mesh.Cli.Install;

/// <summary>
/// The Kubernetes objects of a Mesh install: the namespace, the CustomResourceDefinitions of every Istio and Gateway API
/// kind Mesh reads (our own, minimal schemas), the control plane's identity and least-privilege RBAC, its Deployment,
/// PodDisruptionBudget and Service, and the injection webhook's MutatingWebhookConfiguration.
/// </summary>
internal static class InstallManifests
{
    /// <summary>The CRDs: group, kind, plural, short names, scope, versions (the first is stored).</summary>
    public static readonly (string Group, string Kind, string Plural, string[] ShortNames, bool Namespaced, string[] Versions)[] CustomResources =
    [
        ("networking.istio.io", "VirtualService", "virtualservices", ["vs"], true, ["v1", "v1beta1", "v1alpha3"]),
        ("networking.istio.io", "DestinationRule", "destinationrules", ["dr"], true, ["v1", "v1beta1", "v1alpha3"]),
        ("networking.istio.io", "ServiceEntry", "serviceentries", ["se"], true, ["v1", "v1beta1", "v1alpha3"]),
        ("networking.istio.io", "WorkloadEntry", "workloadentries", ["we"], true, ["v1", "v1beta1", "v1alpha3"]),
        ("networking.istio.io", "Gateway", "gateways", ["gw"], true, ["v1", "v1beta1", "v1alpha3"]),
        ("networking.istio.io", "Sidecar", "sidecars", [], true, ["v1", "v1beta1", "v1alpha3"]),
        ("security.istio.io", "PeerAuthentication", "peerauthentications", ["pa"], true, ["v1", "v1beta1"]),
        ("security.istio.io", "AuthorizationPolicy", "authorizationpolicies", ["ap"], true, ["v1", "v1beta1"]),
        ("security.istio.io", "RequestAuthentication", "requestauthentications", ["ra"], true, ["v1", "v1beta1"]),
        ("telemetry.istio.io", "Telemetry", "telemetries", ["telemetry"], true, ["v1", "v1alpha1"]),
        ("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses", ["gc"], false, ["v1", "v1beta1"]),
        ("gateway.networking.k8s.io", "Gateway", "gateways", ["gtw"], true, ["v1", "v1beta1"]),
        ("gateway.networking.k8s.io", "HTTPRoute", "httproutes", [], true, ["v1", "v1beta1"]),
        ("gateway.networking.k8s.io", "GRPCRoute", "grpcroutes", [], true, ["v1"]),
        ("gateway.networking.k8s.io", "ReferenceGrant", "referencegrants", ["refgrant"], true, ["v1beta1"]),
    ];

    private const string AppName = "mesh-controlplane";

    /// <summary>Every object, in the order they are applied (and the reverse of the order they are deleted).</summary>
    public static IReadOnlyList<JsonObject> Build(InstallSettings s)
    {
        var objects = new List<JsonObject>
        {
            new()
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Namespace",
                ["metadata"] = new JsonObject { ["name"] = s.Namespace, ["labels"] = new JsonObject { ["app.kubernetes.io/part-of"] = "mesh" } },
            },
        };
        objects.AddRange(CustomResources.Select(Crd));
        objects.Add(Namespaced("v1", "ServiceAccount", s.Name, s));
        objects.Add(ClusterRole(s));
        objects.Add(Binding("ClusterRoleBinding", "ClusterRole", s));
        objects.Add(Role(s));
        objects.Add(Binding("RoleBinding", "Role", s));
        objects.Add(Service(s));
        objects.Add(Deployment(s));
        if (s.Replicas > 1)
        {
            var pdb = Namespaced("policy/v1", "PodDisruptionBudget", s.Name, s);
            pdb["spec"] = new JsonObject { ["minAvailable"] = 1, ["selector"] = new JsonObject { ["matchLabels"] = Selector(s) } };
            objects.Add(pdb);
        }

        objects.Add(Webhook(s));
        return objects;
    }

    private static JsonObject Labels(InstallSettings s) => new()
    {
        ["app"] = AppName,
        ["app.kubernetes.io/name"] = AppName,
        ["app.kubernetes.io/part-of"] = "mesh",
        ["istio.io/rev"] = s.Revision ?? "default",
    };

    private static JsonObject Selector(InstallSettings s) => new() { ["app"] = AppName, ["istio.io/rev"] = s.Revision ?? "default" };

    private static JsonObject Namespaced(string apiVersion, string kind, string name, InstallSettings s) => new()
    {
        ["apiVersion"] = apiVersion,
        ["kind"] = kind,
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = s.Namespace, ["labels"] = Labels(s) },
    };

    private static JsonObject Crd((string Group, string Kind, string Plural, string[] ShortNames, bool Namespaced, string[] Versions) r)
    {
        var names = new JsonObject { ["kind"] = r.Kind, ["listKind"] = r.Kind + "List", ["plural"] = r.Plural, ["singular"] = r.Kind.ToLowerInvariant() };
        if (r.ShortNames.Length > 0)
        {
            names["shortNames"] = new JsonArray([.. r.ShortNames.Select(n => (JsonNode)n)]);
        }

        var categories = r.Group.EndsWith(".istio.io", StringComparison.Ordinal) ? new JsonArray("istio-io", r.Group.Split('.')[0] + "-istio-io") : new JsonArray("gateway-api");
        names["categories"] = categories;
        return new JsonObject
        {
            ["apiVersion"] = "apiextensions.k8s.io/v1",
            ["kind"] = "CustomResourceDefinition",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{r.Plural}.{r.Group}",
                ["labels"] = new JsonObject { ["app.kubernetes.io/part-of"] = "mesh" },
                ["annotations"] = new JsonObject { ["mesh.io/schema"] = "minimal: spec and status are kept as given; Mesh validates them itself (mesh analyze)" },
            },
            ["spec"] = new JsonObject
            {
                ["group"] = r.Group,
                ["names"] = names,
                ["scope"] = r.Namespaced ? "Namespaced" : "Cluster",
                ["versions"] = new JsonArray([.. r.Versions.Select((v, i) => (JsonNode)new JsonObject
                {
                    ["name"] = v,
                    ["served"] = true,
                    ["storage"] = i == 0,
                    ["subresources"] = new JsonObject { ["status"] = new JsonObject() },
                    ["schema"] = new JsonObject
                    {
                        ["openAPIV3Schema"] = new JsonObject
                        {
                            ["type"] = "object",
                            ["properties"] = new JsonObject
                            {
                                ["spec"] = new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true },
                                ["status"] = new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true },
                            },
                        },
                    },
                })]),
            },
        };
    }

    private static JsonObject Rule(string[] groups, string[] resources, string[] verbs, string[]? names = null)
    {
        var rule = new JsonObject
        {
            ["apiGroups"] = new JsonArray([.. groups.Select(g => (JsonNode)g)]),
            ["resources"] = new JsonArray([.. resources.Select(r => (JsonNode)r)]),
            ["verbs"] = new JsonArray([.. verbs.Select(v => (JsonNode)v)]),
        };
        if (names is not null)
        {
            rule["resourceNames"] = new JsonArray([.. names.Select(n => (JsonNode)n)]);
        }

        return rule;
    }

    private static JsonObject ClusterRole(InstallSettings s)
    {
        string[] read = ["get", "list", "watch"];
        var istio = CustomResources.Where(r => r.Group.EndsWith(".istio.io", StringComparison.Ordinal)).ToList();
        var gateway = CustomResources.Where(r => r.Group == "gateway.networking.k8s.io").ToList();
        return new JsonObject
        {
            ["apiVersion"] = "rbac.authorization.k8s.io/v1",
            ["kind"] = "ClusterRole",
            ["metadata"] = new JsonObject { ["name"] = $"{s.Name}-{s.Namespace}", ["labels"] = Labels(s) },
            ["rules"] = new JsonArray(
                Rule([.. istio.Select(r => r.Group).Distinct()], [.. istio.Select(r => r.Plural).Distinct()], read),
                Rule([.. istio.Select(r => r.Group).Distinct()], [.. istio.Select(r => r.Plural + "/status").Distinct()], ["get", "update", "patch"]),
                Rule(["gateway.networking.k8s.io"], [.. gateway.Select(r => r.Plural)], read),
                Rule(["gateway.networking.k8s.io"], [.. gateway.Where(r => r.Kind != "ReferenceGrant").Select(r => r.Plural + "/status")], ["get", "update", "patch"]),
                Rule([string.Empty], ["services", "pods", "namespaces", "nodes"], read),
                Rule(["discovery.k8s.io"], ["endpointslices"], read),
                Rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], read),
                Rule([string.Empty, "events.k8s.io"], ["events"], ["create", "patch"]),
                Rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                Rule([string.Empty], ["configmaps"], ["get", "create", "update"]),
                Rule(["admissionregistration.k8s.io"], ["mutatingwebhookconfigurations"], read),
                Rule(["admissionregistration.k8s.io"], ["mutatingwebhookconfigurations"], ["update", "patch"], [WebhookName(s)])),
        };
    }

    private static JsonObject Role(InstallSettings s)
    {
        var role = Namespaced("rbac.authorization.k8s.io/v1", "Role", s.Name, s);
        role["rules"] = new JsonArray(
            Rule(["coordination.k8s.io"], ["leases"], ["get", "list", "watch", "create", "update", "patch"]),
            Rule([string.Empty], ["secrets"], ["get", "watch", "list"], ["mesh-ca"]),
            Rule([string.Empty], ["configmaps"], ["get", "list", "watch", "create", "update", "patch"]));
        return role;
    }

    private static JsonObject Binding(string kind, string roleKind, InstallSettings s)
    {
        var binding = kind == "ClusterRoleBinding"
            ? new JsonObject
            {
                ["apiVersion"] = "rbac.authorization.k8s.io/v1",
                ["kind"] = kind,
                ["metadata"] = new JsonObject { ["name"] = $"{s.Name}-{s.Namespace}", ["labels"] = Labels(s) },
            }
            : Namespaced("rbac.authorization.k8s.io/v1", kind, s.Name, s);
        binding["roleRef"] = new JsonObject
        {
            ["apiGroup"] = "rbac.authorization.k8s.io",
            ["kind"] = roleKind,
            ["name"] = kind == "ClusterRoleBinding" ? $"{s.Name}-{s.Namespace}" : s.Name,
        };
        binding["subjects"] = new JsonArray(new JsonObject { ["kind"] = "ServiceAccount", ["name"] = s.Name, ["namespace"] = s.Namespace });
        return binding;
    }

    private static JsonObject Port(string name, int port, int target) =>
        new() { ["name"] = name, ["port"] = port, ["targetPort"] = target, ["protocol"] = "TCP" };

    private static JsonObject Service(InstallSettings s)
    {
        var service = Namespaced("v1", "Service", s.Name, s);
        service["spec"] = new JsonObject
        {
            ["selector"] = Selector(s),
            ["ports"] = new JsonArray(
                Port("grpc-xds", 15010, 15010),
                Port("https-xds-ca", 15012, 15012),
                Port("http-monitoring", 15014, 15014),
                Port("https-webhook", 15017, 15017),
                Port("https-webhook-443", 443, 15017)),
        };
        return service;
    }

    private static JsonObject Deployment(InstallSettings s)
    {
        var demo = s.Profile == "demo";
        var deployment = Namespaced("apps/v1", "Deployment", s.Name, s);
        JsonObject ContainerPort(string name, int port) => new() { ["name"] = name, ["containerPort"] = port, ["protocol"] = "TCP" };
        JsonObject FieldEnv(string name, string path) => new() { ["name"] = name, ["valueFrom"] = new JsonObject { ["fieldRef"] = new JsonObject { ["fieldPath"] = path } } };
        deployment["spec"] = new JsonObject
        {
            ["replicas"] = s.Replicas,
            ["selector"] = new JsonObject { ["matchLabels"] = Selector(s) },
            ["strategy"] = new JsonObject { ["rollingUpdate"] = new JsonObject { ["maxSurge"] = "100%", ["maxUnavailable"] = "25%" } },
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject { ["labels"] = Labels(s), ["annotations"] = new JsonObject { ["sidecar.istio.io/inject"] = "false" } },
                ["spec"] = new JsonObject
                {
                    ["serviceAccountName"] = s.Name,
                    ["securityContext"] = new JsonObject { ["runAsNonRoot"] = true, ["runAsUser"] = 1337, ["runAsGroup"] = 1337, ["fsGroup"] = 1337 },
                    ["affinity"] = new JsonObject
                    {
                        ["podAntiAffinity"] = new JsonObject
                        {
                            ["preferredDuringSchedulingIgnoredDuringExecution"] = new JsonArray(new JsonObject
                            {
                                ["weight"] = 100,
                                ["podAffinityTerm"] = new JsonObject
                                {
                                    ["topologyKey"] = "kubernetes.io/hostname",
                                    ["labelSelector"] = new JsonObject { ["matchLabels"] = Selector(s) },
                                },
                            }),
                        },
                    },
                    ["containers"] = new JsonArray(new JsonObject
                    {
                        ["name"] = "discovery",
                        ["image"] = s.ImageReference,
                        // --kubernetes: read the cluster, run the injection webhook (15017) and TokenReview-based identity;
                        // --http-listen: the kubelet's readiness probe reaches /healthz/ready on the pod's address.
                        ["args"] = new JsonArray("--kubernetes", "--listen", "0.0.0.0", "--http-listen", "0.0.0.0", "--webhook-port", "15017",
                            "--trust-domain", s.TrustDomain, "--ca-dir", "/var/run/mesh/ca"),
                        ["ports"] = new JsonArray(ContainerPort("grpc-xds", 15010), ContainerPort("https-xds-ca", 15012), ContainerPort("http-monitoring", 15014), ContainerPort("https-webhook", 15017)),
                        ["env"] = new JsonArray(
                            FieldEnv("POD_NAME", "metadata.name"),
                            FieldEnv("POD_NAMESPACE", "metadata.namespace"),
                            new JsonObject { ["name"] = "REVISION", ["value"] = s.Revision ?? "default" }),
                        ["readinessProbe"] = new JsonObject
                        {
                            ["httpGet"] = new JsonObject { ["path"] = "/healthz/ready", ["port"] = 15014 },
                            ["initialDelaySeconds"] = 1,
                            ["periodSeconds"] = 3,
                            ["timeoutSeconds"] = 5,
                        },
                        ["resources"] = new JsonObject
                        {
                            ["requests"] = new JsonObject { ["cpu"] = demo ? "100m" : "500m", ["memory"] = demo ? "128Mi" : "512Mi" },
                            ["limits"] = new JsonObject { ["memory"] = demo ? "512Mi" : "2Gi" },
                        },
                        ["securityContext"] = new JsonObject
                        {
                            ["allowPrivilegeEscalation"] = false,
                            ["readOnlyRootFilesystem"] = true,
                            ["capabilities"] = new JsonObject { ["drop"] = new JsonArray("ALL") },
                        },
                        ["volumeMounts"] = new JsonArray(new JsonObject { ["name"] = "mesh-ca", ["mountPath"] = "/var/run/mesh/ca" }),
                    }),
                    ["volumes"] = new JsonArray(new JsonObject
                    {
                        ["name"] = "mesh-ca",
                        ["secret"] = new JsonObject { ["secretName"] = "mesh-ca", ["optional"] = true },
                    }),
                },
            },
        };
        return deployment;
    }

    /// <summary>The MutatingWebhookConfiguration's name.</summary>
    public static string WebhookName(InstallSettings s) => s.Revision is null ? "mesh-sidecar-injector" : $"mesh-sidecar-injector-{s.Revision}";

    private static JsonObject Webhook(InstallSettings s)
    {
        JsonObject Expression(string key, string op, params string[] values)
        {
            var e = new JsonObject { ["key"] = key, ["operator"] = op };
            if (values.Length > 0)
            {
                e["values"] = new JsonArray([.. values.Select(v => (JsonNode)v)]);
            }

            return e;
        }

        JsonObject Hook(string name, JsonArray namespaceExpressions, JsonArray objectExpressions) => new()
        {
            ["name"] = name,
            ["clientConfig"] = new JsonObject
            {
                ["service"] = new JsonObject { ["name"] = s.Name, ["namespace"] = s.Namespace, ["path"] = "/inject", ["port"] = 443 },
            },
            ["rules"] = new JsonArray(new JsonObject
            {
                ["operations"] = new JsonArray("CREATE"),
                ["apiGroups"] = new JsonArray(string.Empty),
                ["apiVersions"] = new JsonArray("v1"),
                ["resources"] = new JsonArray("pods"),
            }),
            ["namespaceSelector"] = new JsonObject { ["matchExpressions"] = namespaceExpressions },
            ["objectSelector"] = new JsonObject { ["matchExpressions"] = objectExpressions },
            ["sideEffects"] = "None",
            ["admissionReviewVersions"] = new JsonArray("v1"),
            ["failurePolicy"] = "Fail",
            ["reinvocationPolicy"] = "Never",
            ["timeoutSeconds"] = 10,
        };

        var excluded = Expression("kubernetes.io/metadata.name", "NotIn", "kube-system", "kube-public", s.Namespace);
        var webhooks = s.Revision is null
            ? new JsonArray(
                Hook("namespace.inject.mesh.io", [Expression("istio-injection", "In", "enabled"), excluded.DeepClone()], [Expression("sidecar.istio.io/inject", "NotIn", "false")]),
                Hook("object.inject.mesh.io", [Expression("istio-injection", "DoesNotExist"), Expression("istio.io/rev", "DoesNotExist"), excluded.DeepClone()], [Expression("sidecar.istio.io/inject", "In", "true"), Expression("istio.io/rev", "DoesNotExist")]))
            : new JsonArray(
                Hook("rev.namespace.inject.mesh.io", [Expression("istio.io/rev", "In", s.Revision), Expression("istio-injection", "DoesNotExist"), excluded.DeepClone()], [Expression("sidecar.istio.io/inject", "NotIn", "false")]),
                Hook("rev.object.inject.mesh.io", [Expression("istio-injection", "DoesNotExist"), excluded.DeepClone()], [Expression("sidecar.istio.io/inject", "NotIn", "false"), Expression("istio.io/rev", "In", s.Revision)]));
        return new JsonObject
        {
            ["apiVersion"] = "admissionregistration.k8s.io/v1",
            ["kind"] = "MutatingWebhookConfiguration",
            ["metadata"] = new JsonObject { ["name"] = WebhookName(s), ["labels"] = Labels(s) },
            ["webhooks"] = webhooks,
        };
    }
}
