using System.CommandLine;
using System.Text.Json.Nodes;
using Mesh.Cli.ControlPlane;
using Mesh.Cli.Output;
using Mesh.Cli.ProxyConfig;
using Mesh.Cli.ProxyStatus;
using Mesh.Xds;

namespace Mesh.Cli.Describe;

/// <summary>
/// <c>mesh describe service|workload NAME</c>: what applies to a service or a workload — routes and weights, the TLS its
/// callers use, its endpoints and their health, its inbound mTLS mode and authorization rules — put together from
/// <c>/debug/configz</c> and the connected clients' <c>/debug/config_dump</c>.
/// </summary>
internal static class DescribeCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("describe", "Describe what applies to a service or a workload");
        command.Subcommands.Add(CreateService(global));
        command.Subcommands.Add(CreateWorkload(global));
        return command;
    }

    private static Command CreateService(GlobalOptions global)
    {
        var name = new Argument<string>("service") { Description = "The service: reviews, reviews.default or its full host name" };
        var ns = new Option<string>("--namespace", "-n") { Description = "Namespace a short name resolves in", DefaultValueFactory = _ => "default", HelpName = "NS" };
        var command = new Command("service", "Routes and weights, callers' TLS, endpoints and health, inbound mTLS and authorization of a service") { name, ns };
        command.Aliases.Add("svc");
        command.SetAction(async (result, cancellationToken) =>
        {
            using var client = global.ConnectControlPlane(result);
            var configz = await client.GetJsonAsync("debug/configz", cancellationToken).ConfigureAwait(false);
            var host = Analyze.MeshIndex.Canonical(result.GetValue(name)!, result.GetValue(ns)!);
            var service = Json.Items(configz, "services").FirstOrDefault(s => string.Equals(Json.Str(s, "host"), host, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliException($"no service '{host}' in the control plane's configuration. Services: {string.Join(", ", Json.Items(configz, "services").Select(s => Json.Str(s, "host")))}.");
            var clients = SyncStatusReader.Read((await client.GetJsonAsync("debug/syncz", cancellationToken).ConfigureAwait(false))!);

            // The routes, clusters and endpoints as the first client that holds them got them.
            var routeRows = new JsonArray();
            var clusterRows = new JsonArray();
            var endpointRows = new JsonArray();
            var inbound = new JsonArray();
            string? seenBy = null;
            var shortName = host.Split('.')[0];
            foreach (var nodeId in clients.Select(c => c.NodeId).Distinct(StringComparer.Ordinal))
            {
                var dump = await ControlPlaneConfigReader.ReadAsync(client, nodeId, cancellationToken).ConfigureAwait(false);
                if (seenBy is null && dump.OfType(XdsTypeUrls.Cluster).Any(c => c.Name.EndsWith("|" + host, StringComparison.OrdinalIgnoreCase)))
                {
                    seenBy = nodeId;
                    AddRoutes(dump.OfType(XdsTypeUrls.RouteConfiguration).Where(r => r.Name.StartsWith(host + ":", StringComparison.OrdinalIgnoreCase)), routeRows);
                    foreach (var c in dump.OfType(XdsTypeUrls.Cluster).Where(c => c.Name.EndsWith("|" + host, StringComparison.OrdinalIgnoreCase)))
                    {
                        clusterRows.Add(new JsonObject { ["cluster"] = c.Name, ["tls"] = Json.At(c.Resource, "transportSocket") is null ? "plaintext" : "mTLS", ["lb"] = Json.Str(c.Resource, "lbPolicy") ?? "ROUND_ROBIN" });
                    }

                    AddEndpoints(dump.OfType(XdsTypeUrls.ClusterLoadAssignment).Where(e => e.Name.EndsWith("|" + host, StringComparison.OrdinalIgnoreCase)), endpointRows);
                }

                if (nodeId.StartsWith(shortName + "-", StringComparison.Ordinal) || nodeId.StartsWith(shortName + ".", StringComparison.Ordinal))
                {
                    foreach (var policy in InboundPolicy.Read(dump.OfType(XdsTypeUrls.Listener).Select(l => l.Resource)))
                    {
                        inbound.Add(new JsonObject { ["workload"] = nodeId, ["listener"] = policy.Listener, ["mtls"] = policy.MtlsMode, ["authorization"] = new JsonArray([.. policy.AuthorizationRules.Select(r => (JsonNode)r)]) });
                    }
                }
            }

            var description = new JsonObject
            {
                ["service"] = host,
                ["ports"] = Json.At(service, "ports")?.DeepClone(),
                ["declaredBy"] = Json.At(service, "declaredBy")?.DeepClone(),
                ["endpointCount"] = Json.At(service, "endpoints")?.DeepClone(),
                ["routingRules"] = routeRows.Any(r => Json.Str(r, "match") != "/*" || !(Json.Str(r, "destination") ?? string.Empty).Contains("||", StringComparison.Ordinal))
                    || Json.Items(configz, "routedHosts").Any(h => (Json.Str(h) ?? string.Empty).Contains(host, StringComparison.OrdinalIgnoreCase)),
                ["seenBy"] = seenBy,
                ["routes"] = routeRows,
                ["clusters"] = clusterRows,
                ["endpoints"] = endpointRows,
                ["inbound"] = inbound,
            };
            Write(global, result, description, WriteService);
            return 0;
        });
        return command;
    }

    private static Command CreateWorkload(GlobalOptions global)
    {
        var name = WorkloadArgument.Create("The workload: its node id, or its name without the namespace");
        var command = new Command("workload", "Inbound mTLS and authorization, and the routes a connected workload holds") { name };
        command.Aliases.Add("pod");
        command.SetAction(async (result, cancellationToken) =>
        {
            var target = result.GetValue(name) ?? throw new CliException("describe workload needs a workload (see mesh proxy-status).", CliException.Usage);
            using var client = global.ConnectControlPlane(result);
            var dump = await ControlPlaneConfigReader.ReadAsync(client, target, cancellationToken).ConfigureAwait(false);
            var routes = new JsonArray();
            AddRoutes(dump.OfType(XdsTypeUrls.RouteConfiguration), routes);
            var endpoints = new JsonArray();
            AddEndpoints(dump.OfType(XdsTypeUrls.ClusterLoadAssignment), endpoints);
            var description = new JsonObject
            {
                ["workload"] = dump.NodeId,
                ["listeners"] = new JsonArray([.. dump.OfType(XdsTypeUrls.Listener).Where(l => Json.At(l.Resource, "apiListener") is not null).Select(l => (JsonNode)l.Name)]),
                ["routes"] = routes,
                ["endpoints"] = endpoints,
                ["inbound"] = new JsonArray([.. InboundPolicy.Read(dump.OfType(XdsTypeUrls.Listener).Select(l => l.Resource)).Select(p => (JsonNode)new JsonObject
                {
                    ["workload"] = dump.NodeId,
                    ["listener"] = p.Listener,
                    ["mtls"] = p.MtlsMode,
                    ["authorization"] = new JsonArray([.. p.AuthorizationRules.Select(r => (JsonNode)r)]),
                })]),
            };
            Write(global, result, description, WriteWorkload);
            return 0;
        });
        return command;
    }

    private static void AddRoutes(IEnumerable<ProxyResource> routeConfigs, JsonArray into)
    {
        foreach (var config in routeConfigs)
        {
            foreach (var vhost in Json.Items(config.Resource, "virtualHosts"))
            {
                foreach (var route in Json.Items(vhost, "routes"))
                {
                    into.Add(new JsonObject { ["routeConfig"] = config.Name, ["match"] = ProxyConfigTables.Match(route), ["destination"] = ProxyConfigTables.Destination(route) });
                }
            }
        }
    }

    private static void AddEndpoints(IEnumerable<ProxyResource> assignments, JsonArray into)
    {
        foreach (var assignment in assignments)
        {
            foreach (var group in Json.Items(assignment.Resource, "endpoints"))
            {
                foreach (var lb in Json.Items(group, "lbEndpoints"))
                {
                    into.Add(new JsonObject
                    {
                        ["cluster"] = assignment.Name,
                        ["address"] = $"{Json.Str(lb, "endpoint", "address", "socketAddress", "address")}:{Json.Str(lb, "endpoint", "address", "socketAddress", "portValue")}",
                        ["health"] = Json.Str(lb, "healthStatus") is { } h && h != "UNKNOWN" ? h : "HEALTHY",
                    });
                }
            }
        }
    }

    private static void Write(GlobalOptions global, ParseResult result, JsonObject description, Action<TextWriter, JsonObject> table)
    {
        var format = global.GetOutput(result);
        if (format == OutputFormat.Table)
        {
            table(global.Context.Out, description);
        }
        else
        {
            StructuredOutput.Write(global.Context.Out, description, format);
        }
    }

    private static void WriteService(TextWriter output, JsonObject d)
    {
        output.WriteLine($"Service:     {Json.Str(d, "service")}");
        output.WriteLine($"Ports:       {string.Join(", ", Json.Items(d, "ports").Select(p => Json.Str(p)))}");
        output.WriteLine($"Declared by: {Json.Str(d, "declaredBy") ?? string.Join(", ", Json.Items(d, "declaredBy").Select(p => Json.Str(p)))}");
        output.WriteLine($"Endpoints:   {Json.Str(d, "endpointCount") ?? "-"}");
        output.WriteLine($"Routing:     {(Json.Str(d, "routingRules") == "true" ? "VirtualService rules apply" : "no VirtualService; default route to all endpoints")}");
        WriteSections(output, d, Json.Str(d, "seenBy") is { } seenBy
            ? $"(routes, clusters and endpoints as sent to {seenBy})"
            : "(no connected client holds this service's configuration yet; the routes, clusters and endpoints below need one)");
    }

    private static void WriteWorkload(TextWriter output, JsonObject d)
    {
        output.WriteLine($"Workload:  {Json.Str(d, "workload")}");
        output.WriteLine($"Listeners: {string.Join(", ", Json.Items(d, "listeners").Select(p => Json.Str(p)))}");
        WriteSections(output, d, null);
    }

    private static void WriteSections(TextWriter output, JsonObject d, string? note)
    {
        if (note is not null)
        {
            output.WriteLine();
            output.WriteLine(note);
        }

        Section(output, "Routes", d, "routes", ["routeConfig", "match", "destination"], ["ROUTE", "MATCH", "DESTINATION"]);
        Section(output, "Clusters (what callers use)", d, "clusters", ["cluster", "lb", "tls"], ["CLUSTER", "LB", "TLS"]);
        Section(output, "Endpoints", d, "endpoints", ["address", "health", "cluster"], ["ENDPOINT", "HEALTH", "CLUSTER"]);
        output.WriteLine();
        output.WriteLine("Inbound (mTLS mode and authorization):");
        var inbound = Json.Items(d, "inbound").ToList();
        if (inbound.Count == 0)
        {
            output.WriteLine("  no connected workload of this service serves an inbound listener (mesh servers ask for one with AddMeshServer)");
            return;
        }

        foreach (var item in inbound)
        {
            var rules = Json.Items(item, "authorization").Select(r => Json.Str(r)).ToList();
            output.WriteLine($"  {Json.Str(item, "workload")} {Json.Str(item, "listener")}: mTLS {Json.Str(item, "mtls")}; authorization: {(rules.Count == 0 ? "none (all allowed)" : string.Join("; ", rules))}");
        }
    }

    private static void Section(TextWriter output, string title, JsonObject d, string key, string[] fields, string[] headers)
    {
        output.WriteLine();
        output.WriteLine(title + ":");
        var rows = Json.Items(d, key).ToList();
        if (rows.Count == 0)
        {
            output.WriteLine("  none");
            return;
        }

        var table = new Table(headers);
        foreach (var row in rows)
        {
            table.Add([.. fields.Select(f => Json.Str(row, f))]);
        }

        using var buffer = new StringWriter();
        table.WriteTo(buffer);
        foreach (var line in buffer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            output.WriteLine("  " + line.TrimEnd('\r'));
        }
    }
}
