using System.Net;
using Grpc.Core;
using Mesh.Bench;
using Mesh.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.LoadHarness.Chaos;

/// <summary>
/// <c>chaos-backend --port P --version V</c>: a mesh server (<c>AddMesh</c> + <c>AddMeshServer</c>, bootstrap from
/// <c>GRPC_XDS_BOOTSTRAP_CONFIG</c>) serving the bench Greeter on 127.0.0.1:P over HTTP/2; every reply is its version,
/// so the client can tell which subset served a call. It follows PeerAuthentication (mTLS with a certificate from the
/// control plane's CA) like any mesh workload. Prints <c>ready</c>; stops when standard input closes.
/// </summary>
internal static class ChaosBackend
{
    public static async Task<int> RunAsync(string[] args)
    {
        var port = Program.Option(args, "--port", 0);
        var version = args[Array.IndexOf(args, "--version") + 1];
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => (o.SingleLine, o.TimestampFormat) = (true, "HH:mm:ss.fff "));
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddMesh();
        builder.Services.AddMeshServer();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new HelloReply { Message = version });
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.MapGrpcService<VersionGreeter>();
        await app.StartAsync().ConfigureAwait(false);
        Console.WriteLine("ready");
        while (await Console.In.ReadLineAsync().ConfigureAwait(false) is not null)
        {
        }

        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    private sealed class VersionGreeter(HelloReply reply) : Greeter.GreeterBase
    {
        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context) => Task.FromResult(reply);
    }
}
