using System.Globalization;
using System.Net;

const string Usage = """
    mesh-gateway: the Mesh ingress gateway (YARP, configured by Istio Gateways and VirtualServices over xDS).

    usage: mesh-gateway --listen PORT[=ADDRESS:LISTENPORT] [--listen ...] [--stop-with-stdin]

      --listen 8080                    serve the Gateway server port 8080 on 0.0.0.0:8080
      --listen 8080=127.0.0.1:0        serve it on 127.0.0.1, on a port the system picks (printed at start)
      --stop-with-stdin                stop when standard input closes (a launcher's child)

    The gateway is a workload like any other: its xDS bootstrap comes from GRPC_XDS_BOOTSTRAP (a file) or
    GRPC_XDS_BOOTSTRAP_CONFIG (inline JSON), whose node metadata LABELS the Gateways' selectors match
    (for example {"istio": "ingressgateway"}).
    """;

var listeners = new SortedDictionary<int, IPEndPoint>();
var stopWithStdin = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--listen" when i + 1 < args.Length:
            if (!TryParseListen(args[++i], out var port, out var endpoint))
            {
                Console.Error.WriteLine($"mesh-gateway: --listen '{args[i]}' is not PORT or PORT=ADDRESS:LISTENPORT");
                return 2;
            }

            listeners[port] = endpoint;
            break;
        case "--stop-with-stdin":
            stopWithStdin = true;
            break;
        case "--help" or "-h":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"mesh-gateway: unknown argument '{args[i]}'\n\n{Usage}");
            return 2;
    }
}

if (listeners.Count == 0)
{
    Console.Error.WriteLine("mesh-gateway: at least one --listen is required\n\n" + Usage);
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Services.AddMeshGateway(options =>
{
    foreach (var (port, endpoint) in listeners)
    {
        options.Listeners[port] = endpoint;
    }
});
var app = builder.Build();
app.UseMeshGateway();
await app.StartAsync().ConfigureAwait(false);
foreach (var (port, state) in app.Services.GetRequiredService<Mesh.Gateway.Configuration.GatewayXdsConfiguration>().Ports)
{
    Console.WriteLine($"mesh-gateway: server port {port} listening on {state.ListenOptions?.IPEndPoint}");
}

if (stopWithStdin)
{
    _ = Task.Run(async () =>
    {
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is not null)
        {
        }

        await app.StopAsync().ConfigureAwait(false);
    });
}

await app.WaitForShutdownAsync().ConfigureAwait(false);
return 0;

static bool TryParseListen(string text, out int port, out IPEndPoint endpoint)
{
    endpoint = new IPEndPoint(IPAddress.Any, 0);
    var equals = text.IndexOf('=', StringComparison.Ordinal);
    var portText = equals < 0 ? text : text[..equals];
    if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
    {
        return false;
    }

    if (equals < 0)
    {
        endpoint = new IPEndPoint(IPAddress.Any, port);
        return true;
    }

    if (!IPEndPoint.TryParse(text[(equals + 1)..], out var parsed))
    {
        return false;
    }

    endpoint = parsed;
    return true;
}
