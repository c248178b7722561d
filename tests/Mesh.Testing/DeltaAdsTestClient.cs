using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace Mesh.Testing;

/// <summary>A bare delta ADS client for tests: requests go out as written, responses come back as sent.</summary>
public sealed class DeltaAdsTestClient : IAsyncDisposable
{
    private readonly GrpcChannel _channel;
    private readonly AsyncDuplexStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse> _call;
    private readonly Channel<DeltaDiscoveryResponse> _responses = Channel.CreateUnbounded<DeltaDiscoveryResponse>();
    private readonly Task _reader;

    /// <summary>Opens a delta stream to <paramref name="address"/>.</summary>
    public DeltaAdsTestClient(Uri address, string nodeId = "delta-node", string @namespace = "default")
    {
        _channel = GrpcChannel.ForAddress(address);
        _call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(_channel).DeltaAggregatedResources();
        Node = new Node { Id = nodeId, Metadata = new Struct { Fields = { ["NAMESPACE"] = Value.ForString(@namespace) } } };
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

    /// <summary>Sends a request; the node is added.</summary>
    public Task SendAsync(DeltaDiscoveryRequest request)
    {
        request.Node ??= Node;
        return _call.RequestStream.WriteAsync(request);
    }

    /// <summary>The next response, or a TimeoutException.</summary>
    public async Task<DeltaDiscoveryResponse> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _responses.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no delta xDS response arrived in time");
        }
    }

    /// <summary>A response within <paramref name="wait"/>, or null.</summary>
    public async Task<DeltaDiscoveryResponse?> TryReceiveAsync(TimeSpan wait)
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

    /// <summary>ACKs <paramref name="response"/>.</summary>
    public Task AckAsync(DeltaDiscoveryResponse response) =>
        SendAsync(new DeltaDiscoveryRequest { TypeUrl = response.TypeUrl, ResponseNonce = response.Nonce });

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
