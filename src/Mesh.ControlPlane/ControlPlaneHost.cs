using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Mesh.ControlPlane.Security;
using Mesh.Xds;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.ControlPlane;

/// <summary>Builds the control plane application: the command line, Kestrel's three ports, the services and endpoints.</summary>
public static class ControlPlaneHost
{
    /// <summary>The command-line usage text.</summary>
    public const string Usage = """
        Usage: mesh-controlplane [--config-dir DIR] [--kubernetes | --kubeconfig PATH] [--xds-port PORT] [--http-port PORT]
                                 [--tls-port PORT] [--webhook-port PORT] [--listen ADDRESS] [--http-listen ADDRESS] [--namespace NS]
                                 [--cluster-domain DOMAIN] [--ca-dir DIR] [--trust-domain DOMAIN] [--keepalive DURATION]
                                 [--keepalive-timeout DURATION] [--insecure-identity-from-metadata]
               mesh-controlplane token create --namespace NS --service-account SA [--ttl DURATION]
                                 [--ca-dir DIR] [--trust-domain DOMAIN]

          --config-dir DIR        serve the Istio and Kubernetes YAML in DIR, and follow changes to it
                                  (default: an embedded sample configuration)
          --kubernetes            read the cluster (Services, EndpointSlices, Pods, Istio and Gateway API
                                  resources) with the pod's service account; with --config-dir, both are read
          --kubeconfig PATH       read the cluster of PATH's current context (implies --kubernetes)
          --xds-port PORT         plaintext xDS (ADS) port, 0 for any free port (default 15010)
          --http-port PORT        /debug, /healthz port, 0 for any free port (default 15014)
          --tls-port PORT         xDS over TLS and certificate signing, 0 for any free port (default 15012)
          --webhook-port PORT     the sidecar-injection webhook (HTTPS, /inject), served with --kubernetes, 0 for
                                  any free port (default 15017)
          --listen ADDRESS        address the xDS and TLS ports listen on (default 127.0.0.1)
          --http-listen ADDRESS   address the HTTP (/debug, /healthz) port listens on (default 127.0.0.1); the
                                  debug endpoints reveal policies and peers, keep them off public addresses
          --namespace NS          namespace of resources that name none (default "default")
          --cluster-domain DOMAIN cluster DNS suffix (default cluster.local)
          --ca-dir DIR            the CA's certificate and keys: a root is generated there on first start unless
                                  DIR holds ca-cert.pem and ca-key.pem (default .mesh-ca in the working directory)
          --trust-domain DOMAIN   trust domain of workload identities (default cluster.local)
          --keepalive DURATION    ping an idle xDS connection after DURATION (default 30s; 0 turns it off)
          --keepalive-timeout DURATION
                                  close a connection whose ping is unanswered for DURATION (default 10s)
          --insecure-identity-from-metadata
                                  development only: serve a server's inbound listeners (mTLS mode, RBAC rules) to
                                  whichever workload a client's node metadata claims, also on the plaintext port;
                                  by default they go only to a client that proved that identity on the TLS port
          --load-reporting BOOL   ask clients for load reports (LRS) on every EDS cluster; see /debug/loadz
                                  (default false)

        token create prints a join token that proves spiffe://<trust-domain>/ns/NS/sa/SA to the CA in --ca-dir,
        valid for --ttl (default 24h, e.g. 30m, 720h). Give it to the workload's mesh_ca certificate provider.
        """;

    /// <summary>Reads the command line into <paramref name="options"/>; returns an error message, or null when it was valid.</summary>
    public static string? ParseArguments(IReadOnlyList<string> args, ControlPlaneOptions options)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name == "--insecure-identity-from-metadata")
            {
                options.InsecureIdentityFromMetadata = true;
                continue;
            }

            if (name == "--kubernetes")
            {
                options.Kubernetes = true;
                continue;
            }

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
                case "--kubeconfig":
                    options.Kubeconfig = value;
                    options.Kubernetes = true;
                    break;
                case "--xds-port" or "--http-port" or "--tls-port" or "--webhook-port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                    {
                        return $"'{name} {value}': a port is a number from 0 to 65535.";
                    }

                    if (name == "--xds-port")
                    {
                        options.XdsPort = port;
                    }
                    else if (name == "--tls-port")
                    {
                        options.TlsPort = port;
                    }
                    else if (name == "--webhook-port")
                    {
                        options.WebhookPort = port;
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
                case "--http-listen":
                    if (!IPAddress.TryParse(value, out _))
                    {
                        return $"'--http-listen {value}' is not an IP address.";
                    }

                    options.HttpListenAddress = value;
                    break;
                case "--keepalive" or "--keepalive-timeout":
                    if (!Configuration.IstioDuration.TryParse(value, out var duration)
                        || (duration < TimeSpan.FromSeconds(1) && (duration != TimeSpan.Zero || name == "--keepalive-timeout")))
                    {
                        return $"'{name} {value}' is not a duration of at least 1s, like 30s or 1m{(name == "--keepalive" ? " (0 turns keepalive off)" : string.Empty)}.";
                    }

                    if (name == "--keepalive")
                    {
                        options.KeepAliveInterval = duration == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : duration;
                    }
                    else
                    {
                        options.KeepAliveTimeout = duration;
                    }

                    break;
                case "--namespace":
                    options.DefaultNamespace = value;
                    break;
                case "--cluster-domain":
                    options.ClusterDomain = value;
                    break;
                case "--load-reporting":
                    if (!bool.TryParse(value, out var loadReporting))
                    {
                        return $"'--load-reporting {value}': use true or false.";
                    }

                    options.LoadReporting = loadReporting;
                    break;
                case "--ca-dir":
                    options.CaDir = value;
                    break;
                case "--trust-domain":
                    if (!SpiffeId.TryParse($"spiffe://{value}/ns/x/sa/x", out _))
                    {
                        return $"'--trust-domain {value}' is not a valid trust domain (lower-case letters, digits, '.', '-', '_').";
                    }

                    options.TrustDomain = value;
                    break;
                default:
                    return $"unknown option '{name}'.";
            }
        }

        return null;
    }

    /// <summary>
    /// Runs <c>mesh-controlplane token create …</c> (<paramref name="args"/> without the leading <c>token</c>): writes a
    /// join token to <paramref name="output"/> and returns 0, or an error to <paramref name="error"/> and returns 2.
    /// </summary>
    public static int RunTokenCommand(IReadOnlyList<string> args, TextWriter output, TextWriter error, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Count == 0 || args[0] != "create")
        {
            error.WriteLine("mesh-controlplane: the token command is 'token create --namespace NS --service-account SA [--ttl DURATION] [--ca-dir DIR] [--trust-domain DOMAIN]'.");
            return 2;
        }

        string? ns = null, sa = null;
        var ttl = TimeSpan.FromHours(24);
        var options = new ControlPlaneOptions();
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                error.WriteLine($"mesh-controlplane: '{name}' needs a value.");
                return 2;
            }

            var value = args[++i];
            switch (name)
            {
                case "--namespace" or "-n":
                    ns = value;
                    break;
                case "--service-account":
                    sa = value;
                    break;
                case "--ttl":
                    if (!Configuration.IstioDuration.TryParse(value, out ttl) || ttl <= TimeSpan.Zero)
                    {
                        error.WriteLine($"mesh-controlplane: '--ttl {value}' is not a positive duration like 24h or 30m.");
                        return 2;
                    }

                    break;
                case "--ca-dir":
                    options.CaDir = value;
                    break;
                case "--trust-domain":
                    options.TrustDomain = value;
                    break;
                default:
                    error.WriteLine($"mesh-controlplane: unknown option '{name}' for token create.");
                    return 2;
            }
        }

        if (ns is null || sa is null)
        {
            error.WriteLine("mesh-controlplane: token create needs --namespace and --service-account.");
            return 2;
        }

        SpiffeId identity;
        try
        {
            identity = new SpiffeId(options.TrustDomain, ns, sa);
        }
        catch (ArgumentException ex)
        {
            error.WriteLine("mesh-controlplane: " + ex.Message);
            return 2;
        }

        var expires = (time ?? TimeProvider.System).GetUtcNow() + ttl;
        output.WriteLine(CertificateAuthority.CreateJoinToken(options.ResolveCaDir(), identity, expires));
        return 0;
    }

    /// <summary>
    /// Builds the control plane web application from <paramref name="options"/>: ADS on the xDS port (HTTP/2 without
    /// TLS, as gRPC's plaintext xDS clients speak it), the debug endpoints on the HTTP port, and ADS plus certificate
    /// signing on the TLS port, with a certificate the control plane's CA issues for itself.
    /// </summary>
    public static WebApplication Build(ControlPlaneOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        var address = IPAddress.Parse(options.ListenAddress);
        var httpAddress = IPAddress.Parse(options.HttpListenAddress);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // HTTP/2 keepalive: a peer that stopped (process frozen, network gone, TCP left half-open) is found by an
            // unanswered ping and its connection closed, which ends its xDS streams.
            kestrel.Limits.Http2.KeepAlivePingDelay = options.KeepAliveInterval;
            kestrel.Limits.Http2.KeepAlivePingTimeout = options.KeepAliveTimeout;
            kestrel.Listen(address, options.XdsPort, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(httpAddress, options.HttpPort, listen => listen.Protocols = HttpProtocols.Http1);
            var serving = kestrel.ApplicationServices.GetRequiredService<ServingCertificate>();
            kestrel.Listen(address, options.TlsPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = _ => ValueTask.FromResult(serving.CreateOptions()),
                });
            });
        });
        builder.Services.AddMeshControlPlane(o =>
        {
            o.ConfigDir = options.ConfigDir;
            o.Kubernetes = options.Kubernetes;
            o.Kubeconfig = options.Kubeconfig;
            o.XdsPort = options.XdsPort;
            o.HttpPort = options.HttpPort;
            o.TlsPort = options.TlsPort;
            o.WebhookPort = options.WebhookPort;
            o.ServiceAccountTokenAudience = options.ServiceAccountTokenAudience;
            o.CaDir = options.CaDir;
            o.TrustDomain = options.TrustDomain;
            o.ListenAddress = options.ListenAddress;
            o.HttpListenAddress = options.HttpListenAddress;
            o.InsecureIdentityFromMetadata = options.InsecureIdentityFromMetadata;
            o.KeepAliveInterval = options.KeepAliveInterval;
            o.KeepAliveTimeout = options.KeepAliveTimeout;
            o.XdsLimits = options.XdsLimits;
            o.DefaultNamespace = options.DefaultNamespace;
            o.ClusterDomain = options.ClusterDomain;
            o.DebounceQuiet = options.DebounceQuiet;
            o.DebounceMax = options.DebounceMax;
            o.LoadReporting = options.LoadReporting;
            o.LoadReportingInterval = options.LoadReportingInterval;
        });
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapMeshControlPlane();
        return app;
    }

    /// <summary>The TLS address (xDS over TLS and certificate signing) a started application listens on, like <c>https://127.0.0.1:15012</c>.</summary>
    public static Uri GetTlsAddress(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return new Uri(addresses[2]);
    }

    /// <summary>The addresses a started application listens on: the xDS one first, then the HTTP one.</summary>
    public static (Uri Xds, Uri Http) GetAddresses(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return (new Uri(addresses[0]), new Uri(addresses[1]));
    }
}
