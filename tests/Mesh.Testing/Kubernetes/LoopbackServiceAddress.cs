using System.Net;
using System.Net.Sockets;

namespace Mesh.Testing.Kubernetes;

/// <summary>
/// One address in front of several replicas, as a Kubernetes Service is: each accepted connection is forwarded to the
/// first replica that accepts a connection (in the order given), byte for byte in both directions.
/// </summary>
public sealed class LoopbackServiceAddress : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IReadOnlyList<Uri> _replicas;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _running = [];
    private readonly Lock _lock = new();
    private readonly Task _accepting;

    /// <summary>Starts forwarding to <paramref name="replicas"/>.</summary>
    public LoopbackServiceAddress(params Uri[] replicas)
    {
        _replicas = replicas;
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = AcceptAsync();
    }

    /// <summary>The address clients use.</summary>
    public Uri Address { get; }

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false);
                lock (_lock)
                {
                    _running.Add(ForwardAsync(client));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ForwardAsync(TcpClient client)
    {
        using (client)
        {
            foreach (var replica in _replicas)
            {
                using var upstream = new TcpClient();
                try
                {
                    await upstream.ConnectAsync(replica.Host, replica.Port, _stopping.Token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    continue; // that replica is gone: the next one
                }

                using var both = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                var up = CopyAsync(client.GetStream(), upstream.GetStream(), both);
                var down = CopyAsync(upstream.GetStream(), client.GetStream(), both);
                await Task.WhenAny(up, down).ConfigureAwait(false);
                await both.CancelAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, CancellationTokenSource both)
    {
        try
        {
            await from.CopyToAsync(to, both.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        Task[] running;
        lock (_lock)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
