using System.Collections.Concurrent;
using Envoy.Service.LoadStats.V3;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>
/// A scripted LRS server (<c>envoy.service.load_stats.v3.LoadReportingService</c>) for testing load-reporting clients:
/// Kestrel on 127.0.0.1 (h2c, port chosen by the OS). Every stream gets <see cref="Response"/> after its first request,
/// and every request of every stream is recorded in arrival order.
/// </summary>
public sealed class FakeLoadReportingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly State _state;

    private FakeLoadReportingServer(WebApplication app, State state, Uri address)
    {
        _app = app;
        _state = state;
        Address = address;
    }

    /// <summary>The address to dial, like <c>http://127.0.0.1:40123</c>.</summary>
    public Uri Address { get; }

    /// <summary>The response sent after a stream's first request (set it before the client connects).</summary>
    public LoadStatsResponse Response
    {
        get => _state.Response;
        set => _state.Response = value;
    }

    /// <summary>Every request received, oldest first.</summary>
    public IReadOnlyList<LoadStatsRequest> Requests => [.. _state.Requests];

    /// <summary>Streams opened so far.</summary>
    public int Streams => Volatile.Read(ref _state.Streams);

    /// <summary>Starts a server.</summary>
    public static async Task<FakeLoadReportingServer> StartAsync()
    {
        var state = new State();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(state);
        var app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync().ConfigureAwait(false);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return new FakeLoadReportingServer(app, state, address);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class State
    {
        public int Streams;

        public LoadStatsResponse Response { get; set; } = new() { SendAllClusters = true, LoadReportingInterval = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) };

        public ConcurrentQueue<LoadStatsRequest> Requests { get; } = new();
    }

    private sealed class Service(State state) : LoadReportingService.LoadReportingServiceBase
    {
        public override async Task StreamLoadStats(IAsyncStreamReader<LoadStatsRequest> requestStream, IServerStreamWriter<LoadStatsResponse> responseStream, ServerCallContext context)
        {
            Interlocked.Increment(ref state.Streams);
            var first = true;
            try
            {
                while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
                {
                    state.Requests.Enqueue(requestStream.Current);
                    if (first)
                    {
                        first = false;
                        await responseStream.WriteAsync(state.Response, context.CancellationToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The client went away.
            }
        }
    }
}
