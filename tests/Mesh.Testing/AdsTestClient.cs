using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace Mesh.Testing;

/// <summary>
/// A bare ADS client for tests: a plain gRPC bidirectional stream with no xDS logic of its own, so tests see
/// exactly what the server sends. Works for state-of-the-world; <see cref="DeltaAdsTestClient"/> for delta.
/// </summary>
public sealed class AdsTestClient : IAsyncDisposable
{
    private readonly GrpcChannel _channel;
    private readonly AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> _call;
    private readonly Channel<DiscoveryResponse> _responses = Channel.CreateUnbounded<DiscoveryResponse>();
    private readonly Task _reader;

    /// <summary>
    /// Opens a stream to <paramref name="address"/> as node <paramref name="nodeId"/> in <paramref name="namespace"/>,
    /// through <paramref name="handler"/> when given (TLS options, a client certificate).
    /// </summary>
    public AdsTestClient(Uri address, string nodeId = "test-node", string @namespace = "default", HttpMessageHandler? handler = null)
    {
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        _call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(_channel).StreamAggregatedResources();
        Node = new Node
        {
            Id = nodeId,
            Cluster = "test",
            Metadata = new Struct { Fields = { ["NAMESPACE"] = Value.ForString(@namespace) } },
            UserAgentName = "mesh-ads-test-client",
        };
        _reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var response in _call.ResponseStream.ReadAllAsync())
                {
                    await _responses.Writer.WriteAsync(response);
                }

                _responses.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                _responses.Writer.TryComplete(ex);
            }
        });
    }

    /// <summary>The node sent with every request.</summary>
    public Node Node { get; }

    /// <summary>Sends a request (the node is added).</summary>
    public Task SendAsync(string typeUrl, IEnumerable<string> names, string version = "", string nonce = "", string? error = null)
    {
        var request = new DiscoveryRequest { Node = Node, TypeUrl = typeUrl, VersionInfo = version, ResponseNonce = nonce };
        request.ResourceNames.AddRange(names);
        if (error is not null)
        {
            request.ErrorDetail = new Google.Rpc.Status { Code = 3, Message = error };
        }

        return _call.RequestStream.WriteAsync(request);
    }

    /// <summary>ACKs <paramref name="response"/>, keeping the subscription <paramref name="names"/>.</summary>
    public Task AckAsync(DiscoveryResponse response, IEnumerable<string> names) =>
        SendAsync(response.TypeUrl, names, response.VersionInfo, response.Nonce);

    /// <summary>NACKs <paramref name="response"/>, staying on <paramref name="previousVersion"/>.</summary>
    public Task NackAsync(DiscoveryResponse response, IEnumerable<string> names, string previousVersion, string error) =>
        SendAsync(response.TypeUrl, names, previousVersion, response.Nonce, error);

    /// <summary>The next response, or a TimeoutException after <paramref name="timeout"/> (default 10 s).</summary>
    public async Task<DiscoveryResponse> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _responses.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no xDS response arrived in time");
        }
    }

    /// <summary>The next response of <paramref name="typeUrl"/>, skipping (and returning in <paramref name="skipped"/>) others.</summary>
    public async Task<DiscoveryResponse> ReceiveAsync(string typeUrl, List<DiscoveryResponse>? skipped = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var response = await ReceiveAsync(deadline - DateTime.UtcNow);
            if (response.TypeUrl == typeUrl)
            {
                return response;
            }

            skipped?.Add(response);
        }
    }

    /// <summary>Whether a response arrives within <paramref name="wait"/>; consumes it if so.</summary>
    public async Task<DiscoveryResponse?> TryReceiveAsync(TimeSpan wait)
    {
        try
        {
            return await ReceiveAsync(wait);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _call.RequestStream.CompleteAsync();
        }
        catch (InvalidOperationException)
        {
        }

        _call.Dispose();
        try
        {
            await _reader;
        }
        catch (Exception)
        {
        }

        _channel.Dispose();
    }
}
