using System.CommandLine;
using System.Text.Json.Nodes;
using Mesh.Cli.ControlPlane;
using Mesh.Cli.Output;

namespace Mesh.Cli.Bootstrap;

/// <summary>
/// <c>mesh bootstrap proxyless|envoy WORKLOAD</c>: the bootstrap a workload needs to join the mesh from a VM or a local
/// run — gRPC's xDS bootstrap JSON for a .NET (or other proxyless gRPC) service, or an Envoy bootstrap with an ADS
/// cluster pointing at the control plane.
/// </summary>
internal static class BootstrapCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("bootstrap", "Print a workload's bootstrap for a VM or a local run (proxyless gRPC xDS, or Envoy)");
        command.Subcommands.Add(CreateVariant(global, envoy: false));
        command.Subcommands.Add(CreateVariant(global, envoy: true));
        return command;
    }

    private static Command CreateVariant(GlobalOptions global, bool envoy)
    {
        var workload = new Argument<string>("workload") { Description = "The workload's name, e.g. productpage-v1 (the node id is WORKLOAD.NAMESPACE)" };
        var ns = new Option<string>("--namespace", "-n") { Description = "The workload's namespace", DefaultValueFactory = _ => "default", HelpName = "NS" };
        var serviceAccount = new Option<string?>("--service-account") { Description = "The workload's service account (default: its app label, else the workload name)", HelpName = "SA" };
        var labels = new Option<string[]>("--label", "-l") { Description = "A workload label, key=value (repeatable)", HelpName = "KEY=VALUE", AllowMultipleArgumentsPerToken = false };
        var xds = new Option<string?>("--xds-address") { Description = "The control plane's xDS address (default: the control plane's host, port 15010)", HelpName = "host:port" };
        var ca = new Option<string?>("--ca-address") { Description = "The CA's address for workload certificates (default: the control plane's host, port 15012)", HelpName = "host:port" };
        var tokenFile = new Option<string?>("--token-file") { Description = "A join token file (mesh token create): adds the mesh_ca certificate provider for mTLS", HelpName = "FILE" };
        var rootCert = new Option<string>("--root-cert") { Description = "The mesh root certificate file that verifies the CA", DefaultValueFactory = _ => ".mesh-ca/root-cert.pem", HelpName = "FILE" };
        var ip = new Option<string>("--ip") { Description = "The workload's IP (Envoy's node id)", DefaultValueFactory = _ => "127.0.0.1", HelpName = "IP" };
        var command = new Command(envoy ? "envoy" : "proxyless", envoy
            ? "An Envoy bootstrap: node id sidecar~IP~WORKLOAD.NS~NS.svc.cluster.local, ADS cluster xds-grpc to the control plane, admin on 127.0.0.1:15000"
            : "A gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP file or GRPC_XDS_BOOTSTRAP_CONFIG) for a proxyless .NET service")
        {
            workload, ns, serviceAccount, labels, xds,
        };
        if (envoy)
        {
            command.Options.Add(ip);
        }
        else
        {
            command.Options.Add(ca);
            command.Options.Add(tokenFile);
            command.Options.Add(rootCert);
        }

        command.SetAction(result =>
        {
            var name = result.GetValue(workload)!;
            var @namespace = result.GetValue(ns)!;
            var labelMap = new JsonObject();
            foreach (var label in result.GetValue(labels) ?? [])
            {
                var eq = label.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new CliException($"--label: '{label}' is not key=value.", CliException.Usage);
                }

                labelMap[label[..eq]] = label[(eq + 1)..];
            }

            var controlPlane = ControlPlaneAddress.Resolve(result.GetValue(global.ControlPlane), global.Context);
            var xdsAddress = HostPort(result.GetValue(xds), controlPlane.Host, 15010, "--xds-address");
            var account = result.GetValue(serviceAccount) ?? Json.Str(labelMap, "app") ?? name;
            var metadata = new JsonObject
            {
                ["NAMESPACE"] = @namespace,
                ["SERVICE_ACCOUNT"] = account,
                ["WORKLOAD_NAME"] = name,
                ["LABELS"] = labelMap,
            };
            JsonObject bootstrap;
            if (envoy)
            {
                var (host, port) = xdsAddress;
                bootstrap = EnvoyBootstrap($"sidecar~{result.GetValue(ip)}~{name}.{@namespace}~{@namespace}.svc.cluster.local", $"{name}.{@namespace}", metadata, host, port);
            }
            else
            {
                bootstrap = new JsonObject
                {
                    ["xds_servers"] = new JsonArray(new JsonObject
                    {
                        ["server_uri"] = $"{xdsAddress.Host}:{xdsAddress.Port}",
                        ["channel_creds"] = new JsonArray(new JsonObject { ["type"] = "insecure" }),
                        ["server_features"] = new JsonArray("xds_v3"),
                    }),
                    ["node"] = new JsonObject { ["id"] = $"{name}.{@namespace}", ["cluster"] = @namespace, ["metadata"] = metadata },
                    ["server_listener_resource_name_template"] = "grpc/server?xds.resource.listening_address=%s",
                };
                if (result.GetValue(tokenFile) is { } token)
                {
                    var (caHost, caPort) = HostPort(result.GetValue(ca), controlPlane.Host, 15012, "--ca-address");
                    bootstrap["certificate_providers"] = new JsonObject
                    {
                        ["default"] = new JsonObject
                        {
                            ["plugin_name"] = "mesh_ca",
                            ["config"] = new JsonObject
                            {
                                ["server_uri"] = $"https://{caHost}:{caPort}",
                                ["ca_certificate_file"] = Path.GetFullPath(result.GetValue(rootCert)!),
                                ["token_file"] = Path.GetFullPath(token),
                            },
                        },
                    };
                }
            }

            StructuredOutput.Write(global.Context.Out, bootstrap, global.GetOutput(result) == OutputFormat.Yaml ? OutputFormat.Yaml : OutputFormat.Json);
            return 0;
        });
        return command;
    }

    private static (string Host, int Port) HostPort(string? value, string defaultHost, int defaultPort, string option)
    {
        if (value is null)
        {
            return (defaultHost, defaultPort);
        }

        if (!Uri.TryCreate("tcp://" + value, UriKind.Absolute, out var uri) || uri.Port <= 0 || string.IsNullOrEmpty(uri.Host))
        {
            throw new CliException($"{option}: '{value}' is not host:port.", CliException.Usage);
        }

        return (uri.Host, uri.Port);
    }

    private static JsonObject EnvoyBootstrap(string nodeId, string cluster, JsonObject metadata, string xdsHost, int xdsPort) => new()
    {
        ["node"] = new JsonObject { ["id"] = nodeId, ["cluster"] = cluster, ["metadata"] = metadata },
        ["admin"] = new JsonObject
        {
            ["address"] = new JsonObject { ["socket_address"] = new JsonObject { ["address"] = "127.0.0.1", ["port_value"] = 15000 } },
        },
        ["dynamic_resources"] = new JsonObject
        {
            ["ads_config"] = new JsonObject
            {
                ["api_type"] = "GRPC",
                ["transport_api_version"] = "V3",
                ["grpc_services"] = new JsonArray(new JsonObject { ["envoy_grpc"] = new JsonObject { ["cluster_name"] = "xds-grpc" } }),
            },
            ["cds_config"] = new JsonObject { ["ads"] = new JsonObject(), ["resource_api_version"] = "V3" },
            ["lds_config"] = new JsonObject { ["ads"] = new JsonObject(), ["resource_api_version"] = "V3" },
        },
        ["static_resources"] = new JsonObject
        {
            ["clusters"] = new JsonArray(new JsonObject
            {
                ["name"] = "xds-grpc",
                ["type"] = "STRICT_DNS",
                ["connect_timeout"] = "1s",
                ["typed_extension_protocol_options"] = new JsonObject
                {
                    ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] = new JsonObject
                    {
                        ["@type"] = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        ["explicit_http_config"] = new JsonObject { ["http2_protocol_options"] = new JsonObject() },
                    },
                },
                ["load_assignment"] = new JsonObject
                {
                    ["cluster_name"] = "xds-grpc",
                    ["endpoints"] = new JsonArray(new JsonObject
                    {
                        ["lb_endpoints"] = new JsonArray(new JsonObject
                        {
                            ["endpoint"] = new JsonObject
                            {
                                ["address"] = new JsonObject { ["socket_address"] = new JsonObject { ["address"] = xdsHost, ["port_value"] = xdsPort } },
                            },
                        }),
                    }),
                },
            }),
        },
    };
}
