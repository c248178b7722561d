using System.Text.Json.Nodes;

namespace Mesh.Testing.Kubernetes;

/// <summary>Kubernetes objects as the API server holds them, for tests: Services, EndpointSlices, Pods, Nodes.</summary>
public static class KubernetesObjects
{
    /// <summary>A Service with one port (<paramref name="portName"/>, <paramref name="port"/>) and <c>appProtocol</c>.</summary>
    public static JsonObject Service(string name, int port = 9080, string portName = "http", string appProtocol = "http", string @namespace = "default") => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = @namespace, ["labels"] = new JsonObject { ["app"] = name } },
        ["spec"] = new JsonObject
        {
            ["selector"] = new JsonObject { ["app"] = name },
            ["ports"] = new JsonArray(new JsonObject { ["name"] = portName, ["port"] = port, ["targetPort"] = port, ["appProtocol"] = appProtocol }),
        },
    };

    /// <summary>
    /// An EndpointSlice of <paramref name="service"/> with one endpoint per (address, pod) on <paramref name="port"/>,
    /// ready unless listed in <paramref name="notReady"/>.
    /// </summary>
    public static JsonObject EndpointSlice(string name, string service, int port, IEnumerable<(string Address, string Pod)> endpoints, string portName = "http",
        ISet<string>? notReady = null, string @namespace = "default", string? zone = null)
    {
        var list = new JsonArray();
        foreach (var (address, pod) in endpoints)
        {
            var ready = notReady is null || !notReady.Contains(pod);
            var endpoint = new JsonObject
            {
                ["addresses"] = new JsonArray(address),
                ["conditions"] = new JsonObject { ["ready"] = ready, ["serving"] = ready, ["terminating"] = false },
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["name"] = pod, ["namespace"] = @namespace },
            };
            if (zone is not null)
            {
                endpoint["zone"] = zone;
            }

            list.Add(endpoint);
        }

        return new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = @namespace,
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = service, ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io" },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = list,
            ["ports"] = new JsonArray(new JsonObject { ["name"] = portName, ["port"] = port, ["protocol"] = "TCP" }),
        };
    }

    /// <summary>A running Pod with <paramref name="labels"/> and a service account.</summary>
    public static JsonObject Pod(string name, IReadOnlyDictionary<string, string> labels, string serviceAccount = "default", string @namespace = "default", string? node = null) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = @namespace,
            ["labels"] = new JsonObject([.. labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]),
        },
        ["spec"] = new JsonObject
        {
            ["serviceAccountName"] = serviceAccount,
            ["nodeName"] = node,
            ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "mesh-bookinfo:0.1.0" }),
        },
        ["status"] = new JsonObject { ["phase"] = "Running" },
    };

    /// <summary>A Node with <paramref name="labels"/> (locality: <c>topology.kubernetes.io/region</c> and <c>zone</c>) and a Ready condition.</summary>
    public static JsonObject Node(string name, IReadOnlyDictionary<string, string> labels, string heartbeat = "2026-01-01T00:00:00Z") => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Node",
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["labels"] = new JsonObject([.. labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]),
        },
        ["status"] = new JsonObject
        {
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True", ["lastHeartbeatTime"] = heartbeat }),
        },
    };

    /// <summary>
    /// The pod the ReplicaSet controller creates from <paramref name="deployment"/>'s template: a generateName of the
    /// ReplicaSet's name, the ReplicaSet as controlling owner, and the <c>pod-template-hash</c> label.
    /// </summary>
    public static JsonObject PodFromDeployment(k8s.Models.V1Deployment deployment, string hash = "7d9f8c6b5")
    {
        ArgumentNullException.ThrowIfNull(deployment);
        var pod = JsonNode.Parse(k8s.KubernetesJson.Serialize(deployment.Spec.Template))!.AsObject();
        pod["apiVersion"] = "v1";
        pod["kind"] = "Pod";
        var metadata = (JsonObject)pod["metadata"]!;
        var replicaSet = deployment.Metadata.Name + "-" + hash;
        metadata["generateName"] = replicaSet + "-";
        ((JsonObject)(metadata["labels"] ??= new JsonObject()))["pod-template-hash"] = hash;
        metadata["ownerReferences"] = new JsonArray(new JsonObject
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "ReplicaSet",
            ["name"] = replicaSet,
            ["uid"] = Guid.NewGuid().ToString(),
            ["controller"] = true,
            ["blockOwnerDeletion"] = true,
        });
        return pod;
    }

    /// <summary>A Namespace with <paramref name="labels"/>.</summary>
    public static JsonObject Namespace(string name, IReadOnlyDictionary<string, string>? labels = null) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Namespace",
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["labels"] = new JsonObject([.. (labels ?? new Dictionary<string, string>()).Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]),
        },
    };
}
