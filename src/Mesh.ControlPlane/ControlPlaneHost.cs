using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane;

/// <summary>Builds the control plane application: the command line, Kestrel's two ports, the services and endpoints.</summary>
public static class ControlPlaneHost
{
    /// <summary>The command-line usage text.</summary>
    public const string Usage = """
        Usage: mesh-controlplane [--config-dir DIR] [--xds-port PORT] [--http-port PORT] [--listen ADDRESS]
                                 [--namespace NS] [--cluster-domain DOMAIN]

          --config-dir DIR        serve the Istio and Kubernetes YAML in DIR, and follow changes to it
                                  (default: an embedded sample configuration)
          --xds-port PORT         plaintext xDS (ADS) port, 0 for any free port (default 15010)
          --http-port PORT        /debug, /healthz port, 0 for any free port (default 15014)
          --listen ADDRESS        address to listen on (default 127.0.0.1)
          --namespace NS          namespace of resources that name none (default "default")
          --cluster-domain DOMAIN cluster DNS suffix (default cluster.local)
        """;

    /// <summary>Reads the command line into <paramref name="options"/>; returns an error message, or null when it was valid.</summary>
    public static string? ParseArguments(IReadOnlyList<string> args, ControlPlaneOptions options)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string? value = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < args.Count && name.StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }

            if (value is null)
            {
                return $"'{name}' needs a value.";
            }

            switch (name)
            {
                case "--config-dir":
                    options.ConfigDir = value;
                    break;
                case "--xds-port" or "--http-port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                    {
                        return $"'{name} {value}': a port is a number from 0 to 65535.";
                    }

                    if (name == "--xds-port")
                    {
                        options.XdsPort = port;
                    }
                    else
                    {
                        options.HttpPort = port;
                    }

                    break;
                case "--listen":
                    if (!IPAddress.TryParse(value, out _))
                    {
                        return $"'--listen {value}' is not an IP address.";
                    }

                    options.ListenAddress = value;
                    break;
                case "--namespace":
                    options.DefaultNamespace = value;
                    break;
                case "--cluster-domain":
                    options.ClusterDomain = value;
                    break;
                default:
                    return $"unknown option '{name}'.";
            }
        }

        return null;
    }

    /// <summary>
    /// Builds the control plane web application from <paramref name="options"/>: ADS on the xDS port (HTTP/2 without
    /// TLS, as gRPC's plaintext xDS clients speak it) and the debug endpoints on the HTTP port.
    /// </summary>
    public static WebApplication Build(ControlPlaneOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        var address = IPAddress.Parse(options.ListenAddress);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(address, options.XdsPort, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(address, options.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddMeshControlPlane(o =>
        {
            o.ConfigDir = options.ConfigDir;
            o.XdsPort = options.XdsPort;
            o.HttpPort = options.HttpPort;
            o.ListenAddress = options.ListenAddress;
            o.DefaultNamespace = options.DefaultNamespace;
            o.ClusterDomain = options.ClusterDomain;
            o.DebounceQuiet = options.DebounceQuiet;
            o.DebounceMax = options.DebounceMax;
        });
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapMeshControlPlane();
        return app;
    }

    /// <summary>The addresses a started application listens on: the xDS one first, then the HTTP one.</summary>
    public static (Uri Xds, Uri Http) GetAddresses(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return (new Uri(addresses[0]), new Uri(addresses[1]));
    }
}
