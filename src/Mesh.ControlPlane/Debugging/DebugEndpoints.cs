using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Mesh.ControlPlane.Kubernetes;
using Mesh.ControlPlane.Model;
using Mesh.ControlPlane.Xds;
using Mesh.Xds;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane.Debugging;

/// <summary>
/// The HTTP endpoints that show what the control plane is serving: /debug/syncz, /debug/config_dump, /debug/configz,
/// /healthz/ready, /version. They answer only on the HTTP port (HTTP/1.1, on <see cref="ControlPlaneOptions.HttpListenAddress"/>,
/// loopback by default), never on the xDS or TLS ports, since they reveal policies, peers and file paths.
/// </summary>
internal static class DebugEndpoints
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(XdsTypeRegistry.Default).WithIndentation());
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Maps the debug and health pages; returns their group (HTTP port only) for other debug pages to join.</summary>
    public static IEndpointRouteBuilder Map(IEndpointRouteBuilder routes)
    {
        var kubernetes = routes.ServiceProvider.FindKubernetesSource();
        var endpoints = routes.MapGroup(string.Empty);
        endpoints.AddEndpointFilter(static async (context, next) =>
            HttpProtocol.IsHttp11(context.HttpContext.Request.Protocol) || HttpProtocol.IsHttp10(context.HttpContext.Request.Protocol)
                ? await next(context).ConfigureAwait(false)
                : Results.NotFound());
        endpoints.MapGet("/healthz/ready", (MeshSnapshotProvider provider) =>
            provider.Current.Version == 0 ? Results.Text("not ready", statusCode: StatusCodes.Status503ServiceUnavailable)
            : kubernetes is null ? Results.Text("ok")
            : KubernetesDebug.Ready(kubernetes, provider.Current.Version));

        endpoints.MapGet("/version", () => Results.Json(new JsonObject { ["version"] = ControlPlaneVersion.Current }));

        endpoints.MapGet("/debug/syncz", (XdsResourceCache cache, HttpContext context) =>
        {
            if (kubernetes is not null)
            {
                context.Response.Headers[KubernetesDebug.SyncHeader] = KubernetesDebug.HeaderSafe(KubernetesDebug.SyncSummary(kubernetes));
            }

            return Json(Syncz(cache));
        });

        endpoints.MapGet("/debug/config_dump", (XdsResourceCache cache, string? node) =>
        {
            if (string.IsNullOrEmpty(node))
            {
                return Results.BadRequest("the 'node' query parameter (a node id from /debug/syncz) is required");
            }

            var connection = cache.Connections.FirstOrDefault(c => c.Node?.Id == node);
            if (connection is null)
            {
                return Results.NotFound($"no connected client has node id '{node}'");
            }

            // An Envoy sidecar's view comes in Envoy's own admin ConfigDump shape, so Envoy tooling can read it.
            return Json(Translation.Sidecar.SidecarNode.From(connection.Node) is null ? ConfigDump(cache, connection) : EnvoyConfigDump(cache, connection));
        });

        endpoints.MapGet("/debug/configz", (MeshSnapshotProvider provider) => Json(Configz(provider, kubernetes)));
        return endpoints;
    }

    private static IResult Json(JsonNode node) => Results.Text(node.ToJsonString(Indented), "application/json");

    private static JsonArray Syncz(XdsResourceCache cache)
    {
        var result = new JsonArray();
        foreach (var connection in cache.Connections.OrderBy(c => c.Id))
        {
            var types = new JsonArray();
            foreach (var status in connection.Status.OrderBy(s => s.TypeUrl, StringComparer.Ordinal))
            {
                types.Add(new JsonObject
                {
                    ["typeUrl"] = status.TypeUrl,
                    ["sentVersion"] = status.SentVersion,
                    ["sentNonce"] = status.SentNonce,
                    ["ackedVersion"] = status.AckedVersion,
                    ["status"] = status.LastNack is { } n && n.Nonce == status.SentNonce ? "NACKED"
                        : status.SentVersion is null ? "REQUESTED"
                        : status.SentVersion == status.AckedVersion ? "ACKED" : "SENT",
                    ["lastNack"] = status.LastNack is { } nack
                        ? new JsonObject { ["nonce"] = nack.Nonce, ["version"] = nack.Version, ["message"] = nack.Message, ["at"] = nack.At.ToString("O") }
                        : null,
                    ["subscribed"] = new JsonArray([.. status.Subscribed.Select(s => (JsonNode)s)]),
                    ["resourceCount"] = status.Resources.Count,
                });
            }

            result.Add(new JsonObject
            {
                ["id"] = connection.Id,
                ["nodeId"] = connection.Node?.Id,
                ["cluster"] = connection.Node?.Cluster,
                ["namespace"] = connection.Namespace,
                ["protocol"] = connection.Protocol,
                ["peer"] = connection.Peer,
                ["connectedAt"] = connection.ConnectedAt.ToString("O"),
                ["types"] = types,
            });
        }

        return result;
    }

    private static JsonObject ConfigDump(XdsResourceCache cache, XdsConnection connection)
    {
        var set = cache.Current.ForClient(connection.Node, connection.Workload);
        var types = new JsonObject();
        foreach (var status in connection.Status.OrderBy(s => s.TypeUrl, StringComparer.Ordinal))
        {
            var resources = new JsonArray();
            foreach (var (name, version) in status.Resources.OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                var resource = set.Find(status.TypeUrl, name, connection.Workload);
                resources.Add(new JsonObject
                {
                    ["name"] = name,
                    ["version"] = version,
                    ["current"] = resource?.Version == version,
                    ["resource"] = resource is null ? null : JsonNode.Parse(Formatter.Format(resource.Message)),
                });
            }

            types[status.TypeUrl] = new JsonObject
            {
                ["sentVersion"] = status.SentVersion,
                ["ackedVersion"] = status.AckedVersion,
                ["resources"] = resources,
            };
        }

        return new JsonObject
        {
            ["node"] = connection.Node is null ? null : JsonNode.Parse(Formatter.Format(Printable(connection.Node))),
            ["types"] = types,
        };
    }

    /// <summary>
    /// The node as JSON can show it: a client may send a <c>Value</c> with no kind set (valid protobuf, but the JSON
    /// formatter refuses it), shown as null, or metadata nested deeper than JSON output allows, cut short.
    /// </summary>
    private static Envoy.Config.Core.V3.Node Printable(Envoy.Config.Core.V3.Node node)
    {
        var copy = node.Clone();
        if (copy.Metadata is { } metadata)
        {
            FillEmptyValues(metadata, depth: 0);
        }

        return copy;
    }

    private static void FillEmptyValues(Google.Protobuf.WellKnownTypes.Struct fields, int depth)
    {
        foreach (var value in fields.Fields.Values)
        {
            FillEmptyValue(value, depth + 1);
        }
    }

    private static void FillEmptyValue(Google.Protobuf.WellKnownTypes.Value value, int depth)
    {
        if (depth > 24)
        {
            value.StringValue = "(nested too deep to show)"; // the JSON writer's depth limit is 64 levels in all.
            return;
        }

        switch (value.KindCase)
        {
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.None:
                value.NullValue = Google.Protobuf.WellKnownTypes.NullValue.NullValue;
                break;
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StructValue:
                FillEmptyValues(value.StructValue, depth);
                break;
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.ListValue:
                foreach (var item in value.ListValue.Values)
                {
                    FillEmptyValue(item, depth + 1);
                }

                break;
        }
    }

    /// <summary>
    /// What a sidecar holds, as Envoy's admin /config_dump shows it: one <c>envoy.admin.v3.*ConfigDump</c> per type
    /// with the dynamic (xDS-delivered) resources and the version each was sent at.
    /// </summary>
    private static JsonObject EnvoyConfigDump(XdsResourceCache cache, XdsConnection connection)
    {
        var set = cache.Current.ForClient(connection.Node, connection.Workload);
        var configs = new JsonArray();
        foreach (var (typeUrl, dumpType, listKey, itemKey) in new[]
        {
            (XdsTypeUrls.Cluster, "ClustersConfigDump", "dynamic_active_clusters", "cluster"),
            (XdsTypeUrls.ClusterLoadAssignment, "EndpointsConfigDump", "dynamic_endpoint_configs", "endpoint_config"),
            (XdsTypeUrls.Listener, "ListenersConfigDump", "dynamic_listeners", "active_state"),
            (XdsTypeUrls.RouteConfiguration, "RoutesConfigDump", "dynamic_route_configs", "route_config"),
        })
        {
            var status = connection.Status.FirstOrDefault(s => s.TypeUrl == typeUrl);
            var items = new JsonArray();
            foreach (var (name, _) in (status?.Resources ?? new Dictionary<string, string>()).OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                if (set.Find(typeUrl, name, connection.Workload) is not { } resource)
                {
                    continue;
                }

                var body = JsonNode.Parse(Formatter.Format(resource.Packed))!;
                items.Add(typeUrl == XdsTypeUrls.Listener
                    ? new JsonObject { ["name"] = name, ["active_state"] = new JsonObject { ["version_info"] = status!.SentVersion, ["listener"] = body } }
                    : new JsonObject { ["version_info"] = status!.SentVersion, [itemKey] = body });
            }

            configs.Add(new JsonObject { ["@type"] = "type.googleapis.com/envoy.admin.v3." + dumpType, [listKey] = items });
        }

        return new JsonObject { ["configs"] = configs };
    }

    private static JsonObject Configz(MeshSnapshotProvider provider, KubernetesConfigSource? kubernetes)
    {
        var snapshot = provider.Current;
        var result = new JsonObject
        {
            ["version"] = snapshot.Version,
            ["services"] = new JsonArray([.. snapshot.Services.Values.OrderBy(s => s.Host, StringComparer.Ordinal).Select(s => (JsonNode)new JsonObject
            {
                ["host"] = s.Host,
                ["ports"] = new JsonArray([.. s.Ports.Select(p => (JsonNode)$"{p.Number}/{p.Protocol}")]),
                ["endpoints"] = s.Endpoints.Length,
                ["declaredBy"] = s.DeclaredBy,
            })]),
            ["routedHosts"] = new JsonArray([.. snapshot.Routes.Keys.Order(StringComparer.Ordinal).Select(h => (JsonNode)h)]),
            ["errors"] = new JsonArray([.. provider.LastErrors.Select(e => (JsonNode)e.ToString())]),
            ["warnings"] = new JsonArray([.. provider.LastWarnings.Select(e => (JsonNode)e.ToString())]),
            ["gatewayApi"] = new JsonArray([.. provider.LastGatewayApiStatuses.Select(s => (JsonNode)new JsonObject
            {
                ["kind"] = s.Kind,
                ["namespace"] = s.Namespace,
                ["name"] = s.Name,
                ["origin"] = s.Origin,
                ["status"] = s.Status.DeepClone(),
            })]),
        };
        if (kubernetes is not null)
        {
            result["kubernetes"] = KubernetesDebug.Describe(kubernetes);
        }

        return result;
    }
}
