using System.Net;
using System.Net.Sockets;

namespace Mesh.Testing;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a server that can be frozen: it then stops forwarding bytes either way but
/// keeps every socket open (and accepts new ones), like a peer stopped with SIGSTOP. For keepalive tests.
/// </summary>
public sealed class FreezableTcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly List<TcpClient> _connections = [];
    private readonly Lock _lock = new();
    private readonly int _targetPort;
    private readonly Task _acceptLoop;
    private volatile bool _frozen;

    /// <summary>Starts forwarding 127.0.0.1:<see cref="Port"/> to 127.0.0.1:<paramref name="targetPort"/>.</summary>
    public FreezableTcpProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _acceptLoop = Task.Run(AcceptAsync);
    }

    /// <summary>The proxy's port.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>While true nothing is forwarded; sockets stay open.</summary>
    public bool Frozen
    {
        get => _frozen;
        set => _frozen = value;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }

            lock (_lock)
            {
                _connections.Add(inbound);
                _connections.Add(outbound);
                _pumps.Add(PumpAsync(inbound.GetStream(), outbound.GetStream()));
                _pumps.Add(PumpAsync(outbound.GetStream(), inbound.GetStream()));
            }
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                while (_frozen && !_stop.IsCancellationRequested)
                {
                    await Task.Delay(20, _stop.Token).ConfigureAwait(false);
                }

                var read = await from.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    to.Socket.Shutdown(SocketShutdown.Send);
                    return;
                }

                while (_frozen && !_stop.IsCancellationRequested)
                {
                    await Task.Delay(20, _stop.Token).ConfigureAwait(false);
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The connection ended or the proxy is stopping.
        }
    }

    /// <summary>Stops the proxy and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _acceptLoop.ConfigureAwait(false);
        Task[] pumps;
        lock (_lock)
        {
            foreach (var connection in _connections)
            {
                connection.Dispose();
            }

            pumps = [.. _pumps];
        }

        await Task.WhenAll(pumps).ConfigureAwait(false);
        _stop.Dispose();
    }
}
