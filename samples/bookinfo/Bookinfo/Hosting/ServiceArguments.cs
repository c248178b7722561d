using System.Globalization;
using System.Net;

namespace Bookinfo.Hosting;

/// <summary>The command line of one Bookinfo service: <c>ROLE [--version V] [--port P] [--metrics-port P] [--listen ADDRESS] [--stop-with-stdin]</c>.</summary>
internal sealed record ServiceArguments(string Role, string Version, int Port, IPAddress Listen, bool StopWithStdin)
{
    /// <summary>Istio's port for a workload's Prometheus metrics (the agent's merged <c>/stats/prometheus</c>).</summary>
    public const int DefaultMetricsPort = 15020;

    /// <summary>The port of the service's own metrics endpoint (<c>/stats/prometheus</c>), 0 for any free port.</summary>
    public int MetricsPort { get; init; } = DefaultMetricsPort;

    /// <summary>The workload name, like <c>reviews-v2</c>.</summary>
    public string Workload => Role + "-" + Version;

    public const string Usage = """
        Usage: Bookinfo productpage|details|reviews|ratings|gateway [--version v1|v2|v3] [--port PORT] [--metrics-port PORT] [--listen ADDRESS] [--stop-with-stdin]
               Bookinfo launch [--config-dir DIR] [--productpage-port PORT] [control plane options]

          --version V        the version this process serves (reviews: v1 no stars, v2 black stars, v3 red stars; default v1)
          --port PORT        the port to listen on, 0 for any free port (default 9080; the gateway serves its
                             Gateway server port 8080 there)
          --metrics-port P   the port of the Prometheus endpoint /stats/prometheus, outside the mesh (no mTLS) as
                             Istio's 15020 is; 0 for any free port (default 15020)
          --listen ADDRESS   the address to listen on (default 127.0.0.1)
          --stop-with-stdin  stop when standard input closes (how the launcher makes sure no service outlives it)

        The xDS bootstrap comes from GRPC_XDS_BOOTSTRAP (a file) or GRPC_XDS_BOOTSTRAP_CONFIG (JSON). Spans are exported
        over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the OpenTelemetry SDK's variables apply).
        """;

    public static readonly string[] Roles = ["productpage", "details", "reviews", "ratings", "gateway"];

    /// <summary>Parses <paramref name="args"/> (role first); returns null and an error when they are not valid.</summary>
    public static ServiceArguments? Parse(IReadOnlyList<string> args, out string? error)
    {
        error = null;
        if (args.Count == 0 || Array.IndexOf(Roles, args[0]) < 0)
        {
            error = "the first argument is the service to run: " + string.Join(", ", Roles) + ", or launch.";
            return null;
        }

        var version = "v1";
        var port = 9080;
        var metricsPort = DefaultMetricsPort;
        var listen = IPAddress.Loopback;
        var stopWithStdin = false;
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            if (name == "--stop-with-stdin")
            {
                stopWithStdin = true;
                continue;
            }

            if (i + 1 >= args.Count)
            {
                error = $"'{name}' needs a value.";
                return null;
            }

            var value = args[++i];
            switch (name)
            {
                case "--version":
                    if (value is not ("v1" or "v2" or "v3"))
                    {
                        error = $"'--version {value}': versions are v1, v2 and v3.";
                        return null;
                    }

                    version = value;
                    break;
                case "--port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
                    {
                        error = $"'--port {value}': a port is a number from 0 to 65535.";
                        return null;
                    }

                    break;
                case "--metrics-port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out metricsPort) || metricsPort > 65535)
                    {
                        error = $"'--metrics-port {value}': a port is a number from 0 to 65535.";
                        return null;
                    }

                    break;
                case "--listen":
                    if (!IPAddress.TryParse(value, out var address))
                    {
                        error = $"'--listen {value}' is not an IP address.";
                        return null;
                    }

                    listen = address;
                    break;
                default:
                    error = $"unknown option '{name}'.";
                    return null;
            }
        }

        return new ServiceArguments(args[0], version, port, listen, stopWithStdin) { MetricsPort = metricsPort };
    }
}
