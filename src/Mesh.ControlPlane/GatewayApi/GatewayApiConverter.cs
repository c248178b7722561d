using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Configuration;
using Mesh.ControlPlane.Model;

namespace Mesh.ControlPlane.GatewayApi;

/// <summary>
/// Turns the Kubernetes Gateway API (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant) into the Istio
/// resources the mesh model already applies, before the model is built, as Istio itself does: one Istio Gateway per
/// listener of every Gateway whose class Mesh controls, one VirtualService per listener and hostname bound to it
/// (the rules of every route attached there, in the Gateway API's order of precedence), and for routes whose parent is
/// a Service (the GAMMA profile) one mesh VirtualService per Service, applied by proxyless clients. Alongside, it
/// computes the status the Gateway API asks for (Accepted, Programmed, ResolvedRefs, Conflicted). What cannot be
/// honoured is refused in that status and never converted into something broader.
/// </summary>
internal sealed partial class GatewayApiConverter
{
    private static readonly string[] ConvertedKinds = ["GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant"];

    private readonly string _clusterDomain;
    private readonly List<ConfigError> _errors = [];
    private readonly List<ConfigError> _warnings = [];
    private readonly List<ConfigResource> _output = [];
    private readonly List<GatewayApiStatus> _statuses = [];
    private readonly Dictionary<(string Namespace, string Name), KubeServiceRef> _services = [];
    private readonly Dictionary<string, KubeServiceRef> _servicesByHost = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Namespace, string Name), ConfigResource> _secrets = [];
    private readonly Dictionary<string, string> _meshVirtualServiceHosts = new(StringComparer.Ordinal);
    private readonly ReferenceGrants _grants = new();
    private readonly List<(ConfigResource Resource, GatewayClassSpec Spec)> _classes = [];
    private readonly List<(ConfigResource Resource, KubeGatewaySpec Spec)> _gatewayResources = [];
    private readonly List<(ConfigResource Resource, HttpRouteSpec Spec)> _httpRoutes = [];
    private readonly List<(ConfigResource Resource, GrpcRouteSpec Spec)> _grpcRoutes = [];
    private readonly Dictionary<(string Namespace, string Name), GatewayState> _gateways = [];

    /// <summary>Entries by (generated Istio Gateway's namespace, its name, hostname).</summary>
    private readonly Dictionary<(string Namespace, string Gateway, string Host), List<RouteEntry>> _gatewayGroups = [];

    /// <summary>Entries by the Service (GAMMA parent) they route.</summary>
    private readonly Dictionary<string, (KubeServiceRef Service, List<RouteEntry> Entries)> _meshGroups = new(StringComparer.Ordinal);

    private GatewayApiConverter(string clusterDomain) => _clusterDomain = clusterDomain;

    /// <summary>Converts the Gateway API resources among <paramref name="resources"/>; the rest passes through unchanged.</summary>
    public static GatewayApiConversion Convert(IReadOnlyList<ConfigResource> resources, string clusterDomain)
    {
        var converter = new GatewayApiConverter(clusterDomain);
        if (!converter.Index(resources))
        {
            // No Gateway API resource at all: nothing to convert, and the input is handed on as it is.
            return new GatewayApiConversion(resources, [], [], []);
        }

        converter.ConvertClasses();
        converter.ConvertGateways();
        converter.ConvertRoutes();
        converter.EmitVirtualServices();
        converter.ReportGateways();
        return new GatewayApiConversion(converter._output, converter._errors, converter._warnings, [.. converter._statuses]);
    }

    // ---- reading -------------------------------------------------------------------------------------------

    private bool Index(IReadOnlyList<ConfigResource> resources)
    {
        // Most meshes have no Gateway API resource: then nothing else is read (a rebuild of a large cluster pays one pass).
        var any = false;
        foreach (var resource in resources)
        {
            if (IsConverted(resource))
            {
                any = true;
                break;
            }
        }

        if (!any)
        {
            return false;
        }

        var seen = new Dictionary<(string Kind, string Namespace, string Name), ConfigResource>();
        foreach (var resource in resources)
        {
            if (!IsConverted(resource))
            {
                _output.Add(resource);
                IndexOther(resource);
                continue;
            }

            if (!seen.TryAdd((resource.Kind, resource.Namespace, resource.Name), resource))
            {
                Error(resource, "metadata.name", $"duplicate resource: {resource.DisplayName} is also defined at {seen[(resource.Kind, resource.Namespace, resource.Name)].Origin}");
                continue;
            }

            switch (resource.Kind)
            {
                case "GatewayClass":
                    if (Parse<GatewayClassSpec>(resource) is { } gatewayClass)
                    {
                        _classes.Add((resource, gatewayClass));
                    }

                    break;
                case "Gateway":
                    if (Parse<KubeGatewaySpec>(resource) is { } gateway)
                    {
                        _gatewayResources.Add((resource, gateway));
                    }

                    break;
                case "HTTPRoute":
                    if (Parse<HttpRouteSpec>(resource) is { } httpRoute)
                    {
                        _httpRoutes.Add((resource, httpRoute));
                    }

                    break;
                case "GRPCRoute":
                    if (Parse<GrpcRouteSpec>(resource) is { } grpcRoute)
                    {
                        _grpcRoutes.Add((resource, grpcRoute));
                    }

                    break;
                default:
                    if (Parse<ReferenceGrantSpec>(resource) is { } grant)
                    {
                        _grants.Add(resource.Namespace, grant);
                    }

                    break;
            }
        }

        return true;
    }

    private static bool IsConverted(ConfigResource resource) =>
        resource.ApiVersion.StartsWith(GatewayApiNames.Group + "/", StringComparison.Ordinal)
        && Array.IndexOf(ConvertedKinds, resource.Kind) >= 0
        && IstioResourceKinds.Find(resource.Kind, resource.ApiVersion, out _) is not null;

    private void IndexOther(ConfigResource resource)
    {
        switch (resource)
        {
            case { Kind: "Service", ApiVersion: "v1" }:
                var ports = ImmutableHashSet.CreateBuilder<int>();
                foreach (var port in resource.Body["spec"]?["ports"] as JsonArray ?? [])
                {
                    if (WholeNumber(port?["port"]) is { } number)
                    {
                        ports.Add((int)number);
                    }
                }

                var selector = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
                foreach (var (key, value) in resource.Body["spec"]?["selector"] as JsonObject ?? [])
                {
                    if (value is JsonValue text && text.TryGetValue<string>(out var label))
                    {
                        selector[key] = label;
                    }
                }

                var service = new KubeServiceRef(resource.Namespace, resource.Name, $"{resource.Name}.{resource.Namespace}.svc.{_clusterDomain}", ports.ToImmutable(), selector.ToImmutable());
                _services[(resource.Namespace, resource.Name)] = service;
                _servicesByHost[service.Host] = service;
                break;
            case { Kind: "Secret", ApiVersion: "v1" }:
                _secrets[(resource.Namespace, resource.Name)] = resource;
                break;
            case { Kind: "VirtualService" } when resource.ApiVersion.StartsWith("networking.istio.io/", StringComparison.Ordinal):
                // The hosts user VirtualServices route for mesh workloads: a Service routed by one is not also routed by
                // an HTTPRoute, since a host has one route table.
                var gateways = resource.Body["spec"]?["gateways"] as JsonArray;
                var mesh = gateways is null || gateways.Count == 0 || gateways.Any(g => g is JsonValue v && v.TryGetValue<string>(out var s) && s == "mesh");
                if (!mesh)
                {
                    break;
                }

                foreach (var host in resource.Body["spec"]?["hosts"] as JsonArray ?? [])
                {
                    if (host is JsonValue h && h.TryGetValue<string>(out var name))
                    {
                        _meshVirtualServiceHosts.TryAdd(HostNames.Qualify(name, resource.Namespace, _clusterDomain), resource.DisplayName);
                    }
                }

                break;
        }
    }

    private T? Parse<T>(ConfigResource resource)
        where T : class
    {
        if (resource.Body["spec"] is not { } node)
        {
            Error(resource, "spec", "is required");
            return null;
        }

        if (MeshModelBuilder.FindNullListItem(node) is { } nullItem)
        {
            Error(resource, "spec" + nullItem, "is an empty list item");
            return null;
        }

        try
        {
            var spec = node.Deserialize<T>(MeshModelBuilder.SpecOptions);
            if (spec is null)
            {
                Error(resource, "spec", "is required");
            }

            return spec;
        }
        catch (JsonException ex)
        {
            Error(resource, "spec" + (ex.Path ?? "$").TrimStart('$'), MeshModelBuilder.DescribeJsonError(ex));
            return null;
        }
    }

    private static long GenerationOf(ConfigResource resource) => WholeNumber(resource.Body["metadata"]?["generation"]) ?? 0;

    /// <summary>A whole number however the source typed it (a number from the API server, or YAML's number or string).</summary>
    private static long? WholeNumber(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<long>(out var whole))
        {
            return whole;
        }

        if (value.TryGetValue<int>(out var small))
        {
            return small;
        }

        if (value.TryGetValue<double>(out var real) && real == Math.Floor(real) && Math.Abs(real) < int.MaxValue)
        {
            return (long)real;
        }

        return value.TryGetValue<string>(out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
    }

    private static string CreatedAt(ConfigResource resource) =>
        resource.Body["metadata"]?["creationTimestamp"] is JsonValue value && value.TryGetValue<string>(out var text) ? text : string.Empty;

    private void Error(ConfigResource resource, string? field, string message) =>
        _errors.Add(new ConfigError(resource.Origin, resource.DisplayName, field, message));

    private void Warn(ConfigResource resource, string? field, string message) =>
        _warnings.Add(new ConfigError(resource.Origin, resource.DisplayName, field, message));

    // ---- GatewayClass --------------------------------------------------------------------------------------

    /// <summary>The classes Mesh controls: <c>istio</c> unless declared for another controller, and every class naming Mesh's controller.</summary>
    private readonly HashSet<string> _ownClasses = new(StringComparer.Ordinal);

    private void ConvertClasses()
    {
        _ownClasses.Add(GatewayApiNames.DefaultClass);
        foreach (var (resource, spec) in _classes)
        {
            if (spec.ControllerName != GatewayApiNames.GatewayController)
            {
                _ownClasses.Remove(resource.Name);
                continue;
            }

            _ownClasses.Add(resource.Name);
            var generation = GenerationOf(resource);
            var conditions = new JsonArray();
            if (spec.ParametersRef is not null)
            {
                conditions.Add(GatewayConditions.Create(GatewayConditions.Accepted, false, "InvalidParameters", "parametersRef is not read by Mesh; remove it", generation));
                Warn(resource, "spec.parametersRef", "is not read by Mesh, so the class is not accepted");
                _ownClasses.Remove(resource.Name);
            }
            else
            {
                conditions.Add(GatewayConditions.Create(GatewayConditions.Accepted, true, GatewayConditions.Accepted, "Handled by Mesh's gateway controller", generation));
            }

            _statuses.Add(new GatewayApiStatus(resource.Kind, string.Empty, resource.Name, resource.Origin, new JsonObject { ["conditions"] = conditions }));
        }
    }

    // ---- output --------------------------------------------------------------------------------------------

    private void AddIstio(string kind, string @namespace, string name, string origin, JsonObject spec)
    {
        var body = new JsonObject
        {
            ["apiVersion"] = "networking.istio.io/v1",
            ["kind"] = kind,
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = @namespace },
            ["spec"] = spec,
        };
        _output.Add(new ConfigResource("networking.istio.io/v1", kind, @namespace, name, origin, body));
    }

    private void EmitVirtualServices()
    {
        foreach (var ((ns, gateway, host), entries) in _gatewayGroups.OrderBy(static g => g.Key.Namespace, StringComparer.Ordinal)
            .ThenBy(static g => g.Key.Gateway, StringComparer.Ordinal).ThenBy(static g => g.Key.Host, StringComparer.Ordinal))
        {
            var name = $"{gateway}-{HostLabel(host)}";
            AddIstio("VirtualService", ns, name, Origins(entries), new JsonObject
            {
                ["hosts"] = new JsonArray(host),
                ["gateways"] = new JsonArray($"{ns}/{gateway}"),
                ["http"] = Sorted(entries),
            });
        }

        foreach (var (_, (service, entries)) in _meshGroups.OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            AddIstio("VirtualService", service.Namespace, $"{service.Name}-mesh-{GatewayApiNames.GeneratedSuffix}", Origins(entries), new JsonObject
            {
                ["hosts"] = new JsonArray(service.Host),
                ["http"] = Sorted(entries),
            });
        }
    }

    private static string HostLabel(string host) => host == "*" ? "wildcard" : host.Replace("*", "wildcard", StringComparison.Ordinal);

    private static string Origins(List<RouteEntry> entries) =>
        string.Join(", ", entries.Select(e => e.Route.Resource.Origin).Distinct(StringComparer.Ordinal)) + " (converted from the Gateway API)";

    private static JsonArray Sorted(List<RouteEntry> entries)
    {
        entries.Sort(static (a, b) =>
        {
            var c = a.Order.CompareTo(b.Order);
            if (c == 0)
            {
                c = string.CompareOrdinal(a.Route.CreatedAt, b.Route.CreatedAt);
            }

            if (c == 0)
            {
                c = string.CompareOrdinal(a.Route.Resource.Namespace, b.Route.Resource.Namespace);
            }

            if (c == 0)
            {
                c = string.CompareOrdinal(a.Route.Resource.Name, b.Route.Resource.Name);
            }

            if (c == 0)
            {
                c = string.CompareOrdinal(a.Route.Resource.Kind, b.Route.Resource.Kind);
            }

            if (c == 0)
            {
                c = a.Rule.CompareTo(b.Rule);
            }

            if (c == 0)
            {
                c = a.Match.CompareTo(b.Match);
            }

            return c != 0 ? c : a.Piece.CompareTo(b.Piece);
        });
        var http = new JsonArray();
        foreach (var entry in entries)
        {
            http.Add(entry.Http.DeepClone());
        }

        return http;
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
