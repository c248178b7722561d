using System.Text.Json.Nodes;

namespace Mesh.Cli.Tests.Support;

/// <summary>
/// Just enough of a Kubernetes API server for <c>kubectl apply --dry-run=client</c>: discovery of the kinds the install
/// writes, and 404 NotFound for every object (so each would be created).
/// </summary>
internal static class KubeDiscoveryServer
{
    private static readonly (string GroupVersion, (string Plural, string Kind, bool Namespaced)[] Resources)[] Groups =
    [
        ("v1", [("namespaces", "Namespace", false), ("serviceaccounts", "ServiceAccount", true), ("services", "Service", true)]),
        ("apps/v1", [("deployments", "Deployment", true)]),
        ("policy/v1", [("poddisruptionbudgets", "PodDisruptionBudget", true)]),
        ("rbac.authorization.k8s.io/v1", [("clusterroles", "ClusterRole", false), ("clusterrolebindings", "ClusterRoleBinding", false), ("roles", "Role", true), ("rolebindings", "RoleBinding", true)]),
        ("apiextensions.k8s.io/v1", [("customresourcedefinitions", "CustomResourceDefinition", false)]),
        ("admissionregistration.k8s.io/v1", [("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false)]),
    ];

    public static Task<FakeHttpServer> StartAsync()
    {
        var routes = new Dictionary<string, (int, string)>
        {
            ["/api"] = (200, new JsonObject { ["kind"] = "APIVersions", ["versions"] = new JsonArray("v1") }.ToJsonString()),
            ["/apis"] = (200, new JsonObject
            {
                ["kind"] = "APIGroupList",
                ["apiVersion"] = "v1",
                ["groups"] = new JsonArray([.. Groups.Where(g => g.GroupVersion.Contains('/', StringComparison.Ordinal)).Select(g => (JsonNode)new JsonObject
                {
                    ["name"] = g.GroupVersion.Split('/')[0],
                    ["versions"] = new JsonArray(new JsonObject { ["groupVersion"] = g.GroupVersion, ["version"] = "v1" }),
                    ["preferredVersion"] = new JsonObject { ["groupVersion"] = g.GroupVersion, ["version"] = "v1" },
                })]),
            }.ToJsonString()),
        };
        foreach (var (groupVersion, resources) in Groups)
        {
            routes[groupVersion == "v1" ? "/api/v1" : "/apis/" + groupVersion] = (200, new JsonObject
            {
                ["kind"] = "APIResourceList",
                ["apiVersion"] = "v1",
                ["groupVersion"] = groupVersion,
                ["resources"] = new JsonArray([.. resources.Select(r => (JsonNode)new JsonObject
                {
                    ["name"] = r.Plural,
                    ["singularName"] = r.Kind.ToLowerInvariant(),
                    ["namespaced"] = r.Namespaced,
                    ["kind"] = r.Kind,
                    ["verbs"] = new JsonArray("create", "delete", "get", "list", "patch", "update", "watch"),
                })]),
            }.ToJsonString());
        }

        var notFound = new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["status"] = "Failure", ["reason"] = "NotFound", ["code"] = 404, ["message"] = "not found" }.ToJsonString();
        return FakeHttpServer.StartAsync(routes, (404, notFound));
    }
}
