using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Interop.Tests;

/// <summary>
/// Real Kestrel gRPC servers on 127.0.0.1 (HTTP/2 cleartext, ports chosen by the OS), one per backend name,
/// each answering <c>mesh.interop.Echo/Say</c> with its own name and counting the calls it served.
/// </summary>
internal sealed class EchoServers : IAsyncDisposable
{
    private readonly List<EchoServer> _servers;

    private EchoServers(List<EchoServer> servers) => _servers = servers;

    /// <summary>Every server.</summary>
    public IReadOnlyList<EchoServer> All => _servers;

    /// <summary>Starts one server per name in <paramref name="names"/>.</summary>
    public static async Task<EchoServers> StartAsync(params string[] names)
    {
        var servers = new List<EchoServer>();
        try
        {
            foreach (var name in names)
            {
                servers.Add(await EchoServer.StartAsync(name));
            }
        }
        catch
        {
            await DisposeAllAsync(servers);
            throw;
        }

        return new EchoServers(servers);
    }

    /// <summary>Calls served so far, by backend name.</summary>
    public Dictionary<string, int> Calls() => _servers.ToDictionary(s => s.Name, s => s.Calls);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DisposeAllAsync(_servers);

    private static async ValueTask DisposeAllAsync(List<EchoServer> servers)
    {
        foreach (var server in servers)
        {
            await server.DisposeAsync();
        }
    }
}

/// <summary>One Kestrel gRPC server answering <c>Echo/Say</c> as <see cref="Name"/>.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Backend _backend;

    private EchoServer(WebApplication app, Backend backend, int port)
    {
        _app = app;
        _backend = backend;
        Port = port;
    }

    /// <summary>The backend name put in every reply.</summary>
    public string Name => _backend.Name;

    /// <summary>The port it listens on, on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Calls served so far.</summary>
    public int Calls => _backend.Calls;

    public static async Task<EchoServer> StartAsync(string name)
    {
        var backend = new Backend(name);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(backend);
        var app = builder.Build();
        app.MapGrpcService<EchoService>();
        await app.StartAsync();
        // Kestrel reports the port the OS chose once it has started.
        var address = app.Urls.Single();
        return new EchoServer(app, backend, new Uri(address).Port);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class Backend(string name)
    {
        private int _calls;

        public string Name { get; } = name;

        public int Calls => Volatile.Read(ref _calls);

        public void Count() => Interlocked.Increment(ref _calls);
    }

    private sealed class EchoService(Backend backend) : Echo.EchoBase
    {
        public override Task<SayReply> Say(SayRequest request, ServerCallContext context)
        {
            backend.Count();
            if (request.Message.StartsWith("fail", StringComparison.Ordinal))
            {
                // The JS client's --fail-calls: a call the server fails, so load reports count an error.
                throw new RpcException(new Status(StatusCode.Internal, "failed on request"));
            }

            return Task.FromResult(new SayReply { Backend = backend.Name, Message = request.Message });
        }
    }
}
