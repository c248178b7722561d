using System.CommandLine;
using System.Text.Json.Nodes;
using Mesh.Cli.Output;

namespace Mesh.Cli.ProxyConfig;

/// <summary>
/// <c>mesh proxy-config listeners|routes|clusters|endpoints|secrets WORKLOAD</c>: what a client was sent, from the
/// control plane's view, or what the process holds, from its CSDS endpoint (<c>--from-workload host:port</c>).
/// </summary>
internal static class ProxyConfigCommand
{
    private static readonly (string Kind, string[] Aliases, string Description)[] Kinds =
    [
        ("listeners", ["listener", "l"], "Listeners: the API listeners proxyless clients ask for, and inbound listeners"),
        ("routes", ["route", "r"], "Route configurations: virtual hosts, matches and where each route sends traffic"),
        ("clusters", ["cluster", "c"], "Clusters: outbound|port|subset|host, load balancing and TLS"),
        ("endpoints", ["endpoint", "ep"], "Endpoints of each cluster, with health and locality"),
        ("secrets", ["secret", "s"], "Secrets (SDS): certificate chains and trust bundles"),
    ];

    public static Command Create(GlobalOptions global)
    {
        var command = new Command("proxy-config", "Show the xDS configuration of one client, from the control plane or from the workload itself");
        command.Aliases.Add("pc");
        foreach (var (kind, aliases, description) in Kinds)
        {
            command.Subcommands.Add(CreateKind(global, kind, aliases, description));
        }

        return command;
    }

    private static Command CreateKind(GlobalOptions global, string kind, string[] aliases, string description)
    {
        var workload = WorkloadArgument.Create("The client: its node id, or its workload name without the namespace (see mesh proxy-status)");
        var fromWorkload = new Option<string?>("--from-workload")
        {
            Description = "Read what a running .NET service holds from its CSDS endpoint (host:port, plaintext gRPC) instead of the control plane",
            HelpName = "host:port",
        };
        var name = new Option<string?>("--name") { Description = "Only the resource with this name", HelpName = "NAME" };
        var command = new Command(kind, description) { workload, fromWorkload, name };
        foreach (var alias in aliases)
        {
            command.Aliases.Add(alias);
        }

        command.SetAction(async (result, cancellationToken) =>
        {
            var target = result.GetValue(workload);
            var from = result.GetValue(fromWorkload);
            ProxyConfigDump dump;
            if (from is not null)
            {
                dump = await CsdsConfigReader.ReadAsync(from, global.Context.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            else if (target is null)
            {
                throw new CliException($"proxy-config {kind} needs a workload (see mesh proxy-status), or --from-workload host:port.", CliException.Usage);
            }
            else
            {
                using var client = global.ConnectControlPlane(result);
                dump = await ControlPlaneConfigReader.ReadAsync(client, target, cancellationToken).ConfigureAwait(false);
            }

            var resources = dump.OfType(XdsTypes.ForKind(kind));
            if (result.GetValue(name) is { } only)
            {
                resources = [.. resources.Where(r => r.Name == only)];
            }

            var format = global.GetOutput(result);
            if (format != OutputFormat.Table)
            {
                StructuredOutput.Write(global.Context.Out, ToJson(resources, redact: kind == "secrets"), format);
                return 0;
            }

            if (resources.Count == 0)
            {
                global.Context.Out.WriteLine($"{dump.NodeId} holds no {kind}{(result.GetValue(name) is { } n ? $" named '{n}'" : string.Empty)}.");
                return 0;
            }

            ProxyConfigTables.Build(kind, resources).WriteTo(global.Context.Out);
            return 0;
        });
        return command;
    }

    private static JsonArray ToJson(IReadOnlyList<ProxyResource> resources, bool redact) =>
    [
        .. resources.Select(r => (JsonNode)new JsonObject
        {
            ["name"] = r.Name,
            ["typeUrl"] = r.TypeUrl,
            ["version"] = r.Version,
            ["status"] = r.Status,
            ["resource"] = redact ? Redact(r.Resource?.DeepClone()) : r.Resource?.DeepClone(),
        }),
    ];

    /// <summary>Removes private keys, as istioctl does: a secret's key never reaches a terminal.</summary>
    private static JsonNode? Redact(JsonNode? node)
    {
        if (node is JsonObject o)
        {
            foreach (var key in o.Select(p => p.Key).ToList())
            {
                if (key == "privateKey")
                {
                    o[key] = "[redacted]";
                }
                else
                {
                    Redact(o[key]);
                }
            }
        }
        else if (node is JsonArray a)
        {
            foreach (var item in a)
            {
                Redact(item);
            }
        }

        return node;
    }
}
