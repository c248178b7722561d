using System.Net;
using System.Threading.Channels;
using Envoy.Service.Discovery.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
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
/// A scripted ADS server for testing xDS clients: Kestrel on 127.0.0.1 (h2c, port chosen by the OS) hosting
/// <c>AggregatedDiscoveryService</c>. It has no xDS logic: each stream records every request, and the test sends
/// exactly the responses it wants, ends streams, or makes new streams fail.
/// </summary>
public sealed class FakeAdsServer : IAsyncDisposable
{
    private readonly Channel<FakeAdsStream> _opened = Channel.CreateUnbounded<FakeAdsStream>();
    private readonly List<FakeAdsStream> _streams = [];
    private readonly Lock _lock = new();
    private WebApplication? _app;
    private int _attempts;
    private int _rejectStatus = -1;

    private FakeAdsServer()
    {
    }

    /// <summary>The address to dial, like <c>http://127.0.0.1:40123</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The address as an xDS bootstrap <c>server_uri</c>: <c>127.0.0.1:40123</c>.</summary>
    public string ServerUri => $"{Address.Host}:{Address.Port}";

    /// <summary>
    /// When set, every new stream fails at once with this status (the connection itself works). Null (the default)
    /// accepts streams.
    /// </summary>
    public StatusCode? RejectNewStreams
    {
        get => Volatile.Read(ref _rejectStatus) is var code and >= 0 ? (StatusCode)code : null;
        set => Volatile.Write(ref _rejectStatus, value is { } code ? (int)code : -1);
    }

    /// <summary>How many streams were opened, rejected ones included.</summary>
    public int StreamAttempts => Volatile.Read(ref _attempts);

    /// <summary>Every accepted stream so far, oldest first.</summary>
    public IReadOnlyList<FakeAdsStream> Streams
    {
        get
        {
            lock (_lock)
            {
                return [.. _streams];
            }
        }
    }

    /// <summary>Starts a server on a free port.</summary>
    public static Task<FakeAdsServer> StartAsync() => StartAsync(0);

    /// <summary>Starts a server on <paramref name="port"/> (0 for a free one), e.g. to bring one back where it was.</summary>
    public static async Task<FakeAdsServer> StartAsync(int port)
    {
        var server = new FakeAdsServer();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(server);
        var app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync().ConfigureAwait(false);
        server._app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        return server;
    }

    /// <summary>The next stream a client opens (streams already opened and not yet taken come first).</summary>
    public async Task<FakeAdsStream> NextStreamAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _opened.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no ADS stream was opened in time");
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> streams were attempted (rejected ones included).</summary>
    public async Task WaitForStreamAttemptsAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (StreamAttempts < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"expected {count} stream attempts, saw {StreamAttempts}");
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var stream in Streams)
        {
            stream.Close();
        }

        if (_app is not null)
        {
            await _app.StopAsync().ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Add(FakeAdsStream stream)
    {
        lock (_lock)
        {
            _streams.Add(stream);
        }

        _opened.Writer.TryWrite(stream);
    }

    private sealed class Service(FakeAdsServer server) : AggregatedDiscoveryService.AggregatedDiscoveryServiceBase
    {
        public override async Task StreamAggregatedResources(
            IAsyncStreamReader<DiscoveryRequest> requestStream,
            IServerStreamWriter<DiscoveryResponse> responseStream,
            ServerCallContext context)
        {
            var id = Interlocked.Increment(ref server._attempts);
            if (server.RejectNewStreams is { } code)
            {
                throw new RpcException(new Status(code, "FakeAdsServer rejects new streams"));
            }

            var stream = new FakeAdsStream(id, responseStream);
            server.Add(stream);
            await stream.RunAsync(requestStream, context.CancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>One ADS stream on a <see cref="FakeAdsServer"/>: read what the client sent, send what the test wants.</summary>
public sealed class FakeAdsStream
{
    private readonly IServerStreamWriter<DiscoveryResponse> _writer;
    private readonly Channel<DiscoveryRequest> _requests = Channel.CreateUnbounded<DiscoveryRequest>();
    private readonly List<DiscoveryRequest> _received = [];
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource<Status> _end = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _lastWrite = Task.CompletedTask;
    private int _nonce;

    internal FakeAdsStream(int id, IServerStreamWriter<DiscoveryResponse> writer)
    {
        Id = id;
        _writer = writer;
    }

    /// <summary>The stream's number among the server's stream attempts (1 for the first).</summary>
    public int Id { get; }

    /// <summary>Every request received so far, in order.</summary>
    public IReadOnlyList<DiscoveryRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>Why the stream ended, once it has.</summary>
    public string? EndReason { get; private set; }

    /// <summary>Completes when the stream has ended, for whatever reason.</summary>
    public Task Completion => _completion.Task;

    /// <summary>The next request not yet taken, or a <see cref="TimeoutException"/> after <paramref name="timeout"/> (5 s).</summary>
    public async Task<DiscoveryRequest> NextRequestAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            return await _requests.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no ADS request arrived in time");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the ADS stream ended before another request arrived ({EndReason})");
        }
    }

    /// <summary>The next request of <paramref name="typeUrl"/>, skipping requests of other types.</summary>
    public async Task<DiscoveryRequest> NextRequestAsync(string typeUrl, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            var request = await NextRequestAsync(deadline - DateTime.UtcNow).ConfigureAwait(false);
            if (request.TypeUrl == typeUrl)
            {
                return request;
            }
        }
    }

    /// <summary>The next request matching <paramref name="match"/>, skipping (and dropping) the others.</summary>
    public async Task<DiscoveryRequest> NextRequestAsync(Func<DiscoveryRequest, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            var request = await NextRequestAsync(deadline - DateTime.UtcNow).ConfigureAwait(false);
            if (match(request))
            {
                return request;
            }
        }
    }

    /// <summary>The ACK or NACK of <paramref name="response"/>: the next request of its type carrying its nonce.</summary>
    public Task<DiscoveryRequest> ReplyToAsync(DiscoveryResponse response, TimeSpan? timeout = null) =>
        NextRequestAsync(r => r.TypeUrl == response.TypeUrl && r.ResponseNonce == response.Nonce, timeout);

    /// <summary>
    /// Waits until some request received so far (taken or not) matches <paramref name="match"/>; returns the first
    /// such. Does not take requests from the queue <see cref="NextRequestAsync(TimeSpan?)"/> reads.
    /// </summary>
    public async Task<DiscoveryRequest> WaitForRequestAsync(Func<DiscoveryRequest, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            if (Requests.FirstOrDefault(match) is { } request)
            {
                return request;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("no matching ADS request arrived in time");
            }

            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    /// <summary>The next request if one arrives within <paramref name="wait"/>, else null.</summary>
    public async Task<DiscoveryRequest?> TryNextRequestAsync(TimeSpan wait)
    {
        try
        {
            return await NextRequestAsync(wait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>Sends <paramref name="resources"/> (packed) as version <paramref name="version"/>; returns the response with its nonce.</summary>
    public Task<DiscoveryResponse> SendAsync(string typeUrl, string version, params IMessage[] resources) =>
        SendAsync(typeUrl, version, resources.Select(Any.Pack));

    /// <summary>Sends already packed <paramref name="resources"/> as version <paramref name="version"/>.</summary>
    public Task<DiscoveryResponse> SendAsync(string typeUrl, string version, IEnumerable<Any> resources)
    {
        var response = new DiscoveryResponse { TypeUrl = typeUrl, VersionInfo = version };
        response.Resources.AddRange(resources);
        return SendAsync(response);
    }

    /// <summary>Sends <paramref name="response"/>; an empty nonce is replaced by a fresh one.</summary>
    public async Task<DiscoveryResponse> SendAsync(DiscoveryResponse response)
    {
        if (string.IsNullOrEmpty(response.Nonce))
        {
            response.Nonce = "nonce-" + Interlocked.Increment(ref _nonce).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // Writes must not overlap: each waits for the one before.
        Task write;
        lock (_lock)
        {
            write = _lastWrite = WriteAfterAsync(_lastWrite, response);
        }

        await write.ConfigureAwait(false);
        return response;
    }

    private async Task WriteAfterAsync(Task previous, DiscoveryResponse response)
    {
        try
        {
            await previous.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or RpcException or OperationCanceledException)
        {
            // The previous write's caller saw its failure.
        }

        await _writer.WriteAsync(response).ConfigureAwait(false);
    }

    /// <summary>Ends the stream with an error status, as a failing server would.</summary>
    public void Kill(StatusCode code = StatusCode.Unavailable, string detail = "stream killed by the test") =>
        _end.TrySetResult(new Status(code, detail));

    /// <summary>Ends the stream with status OK, as a server closing a healthy stream would.</summary>
    public void Close() => _end.TrySetResult(Status.DefaultSuccess);

    internal async Task RunAsync(IAsyncStreamReader<DiscoveryRequest> requests, CancellationToken cancellationToken)
    {
        using var readCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = ReadAsync(requests, readCts.Token);
        try
        {
            var finished = await Task.WhenAny(reading, _end.Task).ConfigureAwait(false);
            if (finished == _end.Task)
            {
                var status = await _end.Task.ConfigureAwait(false);
                EndReason = $"ended by the test with {status.StatusCode}";

                // Stop reading before the call ends: Kestrel reuses a finished request's body for later requests.
                await readCts.CancelAsync().ConfigureAwait(false);
                await reading.ConfigureAwait(false);
                if (status.StatusCode != StatusCode.OK)
                {
                    throw new RpcException(status);
                }
            }
        }
        finally
        {
            _requests.Writer.TryComplete();
            _completion.TrySetResult();
        }
    }

    private async Task ReadAsync(IAsyncStreamReader<DiscoveryRequest> requests, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var request in requests.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                lock (_lock)
                {
                    _received.Add(request);
                }

                _requests.Writer.TryWrite(request);
            }

            EndReason ??= "the client closed its side";
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or RpcException or InvalidOperationException)
        {
            // The client went away or the stream was ended by the test.
            EndReason ??= $"reading requests failed: {ex.GetType().Name}: {ex.Message}";
        }
    }
}
