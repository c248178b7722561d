using Grpc.Core;
using Mesh.Bench;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Benchmarks;

/// <summary>
/// One loopback Kestrel server every benchmarked path calls: gRPC (HTTP/2 without TLS) on one port, and the same reply
/// as plain text over HTTP/1.1 on a second port for the HttpClient paths. The reply is <see cref="Payload"/> on both.
/// </summary>
public sealed class BenchBackend : IAsyncDisposable
{
    /// <summary>The reply body: 128 bytes, the same for gRPC and HTTP.</summary>
    public static readonly string Payload = new('x', 128);

    private readonly WebApplication _app;

    private BenchBackend(WebApplication app, int grpcPort, int httpPort)
    {
        _app = app;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
    }

    /// <summary>The gRPC (h2c) port.</summary>
    public int GrpcPort { get; }

    /// <summary>The HTTP/1.1 port.</summary>
    public int HttpPort { get; }

    /// <summary>Starts the server on 127.0.0.1 with ports chosen by the OS.</summary>
    public static async Task<BenchBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
            k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<GreeterService>();
        app.MapGet("/hello", () => Results.Text(Payload));
        await app.StartAsync().ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return new BenchBackend(app, new Uri(addresses[0]).Port, new Uri(addresses[1]).Port);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class GreeterService : Greeter.GreeterBase
    {
        private static readonly HelloReply Reply = new() { Message = Payload };

        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context) => Task.FromResult(Reply);

        public override async Task SayHellos(HelloRequest request, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
        {
            for (var i = 0; i < request.Count; i++)
            {
                await responseStream.WriteAsync(Reply).ConfigureAwait(false);
            }
        }
    }
}
