using System.Text.Json.Nodes;

namespace Mesh.ControlPlane.GatewayApi;

internal sealed partial class GatewayApiConverter
{
    private void ConvertRoutes()
    {
        foreach (var (resource, spec) in _httpRoutes)
        {
            var route = new RouteSource(resource, spec.ParentRefs ?? [], spec.Hostnames ?? [], CreatedAt(resource), GenerationOf(resource));
            Attach(route, CompileHttp(route, spec));
        }

        foreach (var (resource, spec) in _grpcRoutes)
        {
            var route = new RouteSource(resource, spec.ParentRefs ?? [], spec.Hostnames ?? [], CreatedAt(resource), GenerationOf(resource));
            Attach(route, CompileGrpc(route, spec));
        }
    }

    /// <summary>Attaches a route to each of its parents Mesh controls, and records the route's status for each.</summary>
    private void Attach(RouteSource route, RouteCompilation compiled)
    {
        var resource = route.Resource;
        var parents = new JsonArray();
        for (var i = 0; i < route.ParentRefs.Count; i++)
        {
            var parent = route.ParentRefs[i];
            var group = parent.Group ?? GatewayApiNames.Group;
            var kind = parent.Kind ?? "Gateway";
            string controller;
            (bool Accepted, string Reason, string Message)? verdict;
            if (group == GatewayApiNames.Group && kind == "Gateway")
            {
                controller = GatewayApiNames.GatewayController;
                verdict = AttachToGateway(route, parent, compiled);
            }
            else if (group.Length == 0 && kind == "Service")
            {
                controller = GatewayApiNames.MeshController;
                verdict = AttachToService(route, parent, compiled);
            }
            else
            {
                continue; // a parent of a kind some other controller serves
            }

            if (verdict is not { } v)
            {
                continue;
            }

            var generation = route.Generation;
            var conditions = new JsonArray
            {
                GatewayConditions.Create(GatewayConditions.Accepted, v.Accepted, v.Reason, v.Message, generation),
                compiled.Unresolved is { } unresolved
                    ? GatewayConditions.Create(GatewayConditions.ResolvedRefs, false, unresolved.Reason, unresolved.Message, generation)
                    : GatewayConditions.Create(GatewayConditions.ResolvedRefs, true, GatewayConditions.ResolvedRefs, "All references resolved", generation),
            };
            parents.Add(new JsonObject
            {
                ["parentRef"] = resource.Body["spec"]?["parentRefs"]?[i]?.DeepClone(),
                ["controllerName"] = controller,
                ["conditions"] = conditions,
            });
            if (!v.Accepted)
            {
                Warn(resource, $"spec.parentRefs[{Text(i)}]", $"not accepted ({v.Reason}): {v.Message}");
            }
        }

        if (parents.Count == 0)
        {
            return;
        }

        if (compiled.Unresolved is { } problem)
        {
            Warn(resource, "spec.rules", $"references not resolved ({problem.Reason}): {problem.Message}; their share of requests is answered with 500");
        }

        _statuses.Add(new GatewayApiStatus(resource.Kind, resource.Namespace, resource.Name, resource.Origin, new JsonObject { ["parents"] = parents }));
    }

    private (bool Accepted, string Reason, string Message)? AttachToGateway(RouteSource route, ParentReferenceSpec parent, RouteCompilation compiled)
    {
        var ns = parent.Namespace ?? route.Resource.Namespace;
        var name = parent.Name ?? string.Empty;
        if (!_gateways.TryGetValue((ns, name), out var gateway))
        {
            foreach (var (other, _) in _gatewayResources)
            {
                if (other.Namespace == ns && other.Name == name)
                {
                    return null; // a Gateway of another class: its controller reports
                }
            }

            return (false, GatewayConditions.NoMatchingParent, $"Gateway {ns}/{name} does not exist");
        }

        if (compiled.Unsupported is { } unsupported)
        {
            return (false, GatewayConditions.UnsupportedValue, unsupported);
        }

        var candidates = 0;
        var allowed = 0;
        var attached = 0;
        string? notAllowed = null;
        foreach (var listener in gateway.Listeners)
        {
            if ((parent.SectionName is { } section && section != listener.Name) || (parent.Port is { } port && port != listener.Port))
            {
                continue;
            }

            candidates++;
            if (!listener.Kinds.Contains(route.Resource.Kind))
            {
                notAllowed ??= $"listener '{listener.Name}' does not allow {route.Resource.Kind}s";
                continue;
            }

            var from = listener.From;
            if (!(from == "All" || (from == "Same" && ns == route.Resource.Namespace)))
            {
                notAllowed ??= from == "Selector"
                    ? $"listener '{listener.Name}' allows namespaces by selector, which Mesh does not evaluate; it admits no route rather than more"
                    : $"listener '{listener.Name}' allows routes from {(from == "Same" ? "its own namespace " + ns : "'" + from + "'")} only";
                continue;
            }

            allowed++;
            var hosts = Intersect(listener.Hostname, route.Hostnames);
            if (hosts.Count == 0)
            {
                continue;
            }

            attached++;
            listener.AttachedRoutes++;
            if (!listener.Ready || gateway.AddressProblem is not null)
            {
                continue; // attached, but the listener is not served: its status says why
            }

            foreach (var host in hosts)
            {
                var key = (gateway.Resource.Namespace, listener.IstioGateway, host);
                if (!_gatewayGroups.TryGetValue(key, out var entries))
                {
                    _gatewayGroups[key] = entries = [];
                }

                entries.AddRange(compiled.Entries);
            }
        }

        if (candidates == 0)
        {
            return (false, GatewayConditions.NoMatchingParent, parent.SectionName is not null || parent.Port is not null
                ? $"Gateway {ns}/{name} has no listener{(parent.SectionName is { } s ? " named '" + s + "'" : string.Empty)}{(parent.Port is { } p ? " on port " + Text(p) : string.Empty)}"
                : $"Gateway {ns}/{name} has no listeners");
        }

        if (allowed == 0)
        {
            return (false, GatewayConditions.NotAllowedByListeners, notAllowed ?? "no listener allows the route");
        }

        if (attached == 0)
        {
            return (false, GatewayConditions.NoMatchingListenerHostname, $"no hostname of the route ({string.Join(", ", route.Hostnames)}) matches a listener's hostname");
        }

        return (true, GatewayConditions.Accepted, $"Route attached to {Text(attached)} listener(s) of Gateway {ns}/{name}");
    }

    /// <summary>
    /// GAMMA: a route whose parent is a Service routes the mesh's calls to that Service, for every client (a producer
    /// route, in the Service's namespace). Its rules become the Service's mesh VirtualService.
    /// </summary>
    private (bool Accepted, string Reason, string Message)? AttachToService(RouteSource route, ParentReferenceSpec parent, RouteCompilation compiled)
    {
        var ns = parent.Namespace ?? route.Resource.Namespace;
        var name = parent.Name ?? string.Empty;
        if (!_services.TryGetValue((ns, name), out var service))
        {
            return (false, GatewayConditions.NoMatchingParent, $"Service {ns}/{name} does not exist");
        }

        if (compiled.Unsupported is { } unsupported)
        {
            return (false, GatewayConditions.UnsupportedValue, unsupported);
        }

        if (ns != route.Resource.Namespace)
        {
            return (false, GatewayConditions.UnsupportedValue, $"a consumer route (in namespace {route.Resource.Namespace}, for Service {ns}/{name}) is not applied: Mesh applies the routes in the Service's own namespace to every client");
        }

        if (parent.Port is { } port && !service.Ports.Contains(port))
        {
            return (false, GatewayConditions.NoMatchingParent, $"Service {ns}/{name} has no port {Text(port)}");
        }

        if (_meshVirtualServiceHosts.TryGetValue(service.Host, out var virtualService))
        {
            return (false, GatewayConditions.UnsupportedValue, $"{virtualService} already routes {service.Host}; a host has one route table, so the VirtualService is kept and this route is not applied");
        }

        if (!_meshGroups.TryGetValue(service.Host, out var group))
        {
            _meshGroups[service.Host] = group = (service, []);
        }

        foreach (var entry in compiled.Entries)
        {
            group.Entries.Add(parent.Port is { } number ? entry with { Http = WithPort(entry.Http, number) } : entry);
        }

        return (true, GatewayConditions.Accepted, $"Route applied to mesh calls to {service.Host}{(parent.Port is { } p ? ":" + Text(p) : string.Empty)}");
    }

    private static JsonObject WithPort(JsonObject http, int port)
    {
        var copy = (JsonObject)http.DeepClone();
        foreach (var match in copy["match"] as JsonArray ?? [])
        {
            match!["port"] = port;
        }

        return copy;
    }

    /// <summary>
    /// The hostnames a route serves on a listener: the route's hostnames the listener's covers (or the listener's when a
    /// route wildcard covers it); every route hostname when the listener has none; the listener's when the route has none.
    /// </summary>
    internal static List<string> Intersect(string? listener, List<string> route)
    {
        var result = new List<string>();
        if (route.Count == 0)
        {
            result.Add(listener ?? "*");
            return result;
        }

        foreach (var host in route)
        {
            var served = listener is null || host == listener || Covers(listener, host) ? host
                : Covers(host, listener) ? listener
                : null;
            if (served is not null && !result.Contains(served))
            {
                result.Add(served);
            }
        }

        return result;
    }

    private static bool Covers(string wildcard, string host) =>
        wildcard.StartsWith("*.", StringComparison.Ordinal) && host.Length > wildcard.Length - 1 && host.EndsWith(wildcard[1..], StringComparison.Ordinal);
}
