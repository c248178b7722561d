using System.Collections.Concurrent;
using Grpc.Core;
using Mesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.EndToEnd;

/// <summary>Real Kestrel gRPC servers on 127.0.0.1, each answering with its own name and counting the calls it got.</summary>
public sealed class GreeterBackends : IAsyncDisposable
{
    private readonly List<WebApplication> _apps = [];

    public ConcurrentDictionary<string, int> Calls { get; } = new();

    public ConcurrentDictionary<string, int> InFlight { get; } = new();

    private int _inFlightTotal;
    private int _peakInFlight;

    /// <summary>The most slow calls (gRPC SayHelloSlowly or HTTP GET /slow/{ms}) in progress at once, over all backends.</summary>
    public int PeakInFlight => Volatile.Read(ref _peakInFlight);

    private void Enter()
    {
        var now = Interlocked.Increment(ref _inFlightTotal);
        int peak;
        while (now > (peak = Volatile.Read(ref _peakInFlight)) && Interlocked.CompareExchange(ref _peakInFlight, now, peak) != peak)
        {
        }
    }

    private void Exit() => Interlocked.Decrement(ref _inFlightTotal);

    /// <summary>Backends that fail every call with UNAVAILABLE while listed here.</summary>
    public ConcurrentDictionary<string, bool> Failing { get; } = new();

    /// <summary>The request headers named x-mesh-* each backend received (name=value), in arrival order.</summary>
    public ConcurrentQueue<string> MeshHeaders { get; } = new();

    /// <summary>Attempts seen per call id (the part of the request name after '#').</summary>
    public ConcurrentDictionary<string, int> Attempts { get; } = new();

    /// <summary>The grpc-previous-rpc-attempts values (A6) seen per call id, in arrival order.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<string>> PreviousAttempts { get; } = new();

    public Dictionary<string, int> Ports { get; } = [];

    public static async Task<GreeterBackends> StartAsync(params string[] names)
    {
        var backends = new GreeterBackends();
        foreach (var name in names)
        {
            await backends.AddAsync(name);
        }

        return backends;
    }

    private readonly Dictionary<string, WebApplication> _byName = [];

    /// <summary>Stops one backend (its port is kept, so <see cref="RestartAsync"/> can listen there again).</summary>
    public async Task StopAsync(string name)
    {
        var app = _byName[name];
        _byName.Remove(name);
        _apps.Remove(app);
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>Starts a stopped backend again on the port it had.</summary>
    public Task RestartAsync(string name) => AddAsync(name, Ports[name]);

    public async Task AddAsync(string name, int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new BackendIdentity(name, this));
        var app = builder.Build();
        app.MapGrpcService<GreeterService>();
        app.MapGet("/slow/{ms:int}", async (int ms) =>
        {
            Calls.AddOrUpdate(name, 1, (_, n) => n + 1);
            Enter();
            try
            {
                await Task.Delay(ms);
            }
            finally
            {
                Exit();
            }

            return name;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Ports[name] = new Uri(address).Port;
        _apps.Add(app);
        _byName[name] = app;
    }

    public int Total => Calls.Values.Sum();

    public void Reset() => Calls.Clear();

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    internal sealed record BackendIdentity(string Name, GreeterBackends Owner);

    private sealed class GreeterService(BackendIdentity identity) : Greeter.GreeterBase
    {
        // Scripted behaviours, by request name: "flaky#id" fails the first attempt of about half the calls with UNAVAILABLE, "status:CODE#id"
        // fails with CODE, "headers-then-unavailable#id" sends response headers and then fails.
        public override async Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
        {
            identity.Owner.Calls.AddOrUpdate(identity.Name, 1, (_, n) => n + 1);
            foreach (var header in context.RequestHeaders)
            {
                if (header.Key.StartsWith("x-mesh-", StringComparison.Ordinal))
                {
                    identity.Owner.MeshHeaders.Enqueue(header.Key + "=" + header.Value);
                }
            }

            var hash = request.Name.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0)
            {
                identity.Owner.Attempts.AddOrUpdate(request.Name[(hash + 1)..], 1, (_, n) => n + 1);
                identity.Owner.PreviousAttempts.GetOrAdd(request.Name[(hash + 1)..], _ => new())
                    .Enqueue(context.RequestHeaders.GetValue("grpc-previous-rpc-attempts") ?? "-");
            }

            if (identity.Owner.Failing.ContainsKey(identity.Name))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, identity.Name + " is failing"));
            }

            var command = hash >= 0 ? request.Name[..hash] : request.Name;
            var attempt = hash >= 0 ? identity.Owner.Attempts[request.Name[(hash + 1)..]] : 1;
            if (command == "flaky" && attempt == 1 && request.Name.GetHashCode(StringComparison.Ordinal) % 2 == 0)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "flaky backend"));
            }

            if (command.StartsWith("status:", StringComparison.Ordinal))
            {
                throw new RpcException(new Status(Enum.Parse<StatusCode>(command["status:".Length..], ignoreCase: true), "scripted failure"));
            }

            if (command == "headers-then-unavailable")
            {
                await context.WriteResponseHeadersAsync([]);
                throw new RpcException(new Status(StatusCode.Unavailable, "failed after headers"));
            }

            return new HelloReply { Message = "Hello " + request.Name, Backend = identity.Name };
        }

        // Streams three replies, after the same scripted behaviours as SayHello.
        public override async Task SayHellos(HelloRequest request, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
        {
            var first = await SayHello(request, context);
            await responseStream.WriteAsync(first);
            await responseStream.WriteAsync(first);
            await responseStream.WriteAsync(first);
        }

        // Reads every request, then answers as SayHello does for the first one, naming how many requests arrived.
        public override async Task<HelloReply> SayHelloToAll(IAsyncStreamReader<HelloRequest> requestStream, ServerCallContext context)
        {
            var names = new List<string>();
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                names.Add(request.Name);
            }

            var reply = await SayHello(new HelloRequest { Name = names.FirstOrDefault() ?? string.Empty }, context);
            reply.Message = string.Join(",", names);
            return reply;
        }

        // The first request is scripted as SayHello; then every request is answered with its own name.
        public override async Task Chat(IAsyncStreamReader<HelloRequest> requestStream, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
        {
            var first = true;
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                if (first)
                {
                    first = false;
                    var reply = await SayHello(request, context);
                    await responseStream.WriteAsync(reply);
                    continue;
                }

                await responseStream.WriteAsync(new HelloReply { Message = request.Name, Backend = identity.Name });
            }
        }

        public override async Task<HelloReply> SayHelloSlowly(HelloRequest request, ServerCallContext context)
        {
            identity.Owner.Calls.AddOrUpdate(identity.Name, 1, (_, n) => n + 1);
            identity.Owner.InFlight.AddOrUpdate(identity.Name, 1, (_, n) => n + 1);
            identity.Owner.Enter();
            try
            {
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
            finally
            {
                identity.Owner.Exit();
                identity.Owner.InFlight.AddOrUpdate(identity.Name, 0, (_, n) => n - 1);
            }

            return new HelloReply { Message = "Hello " + request.Name, Backend = identity.Name };
        }
    }
}
