using System.Net;
using Grpc.Core;
using Mesh.Client.LoadBalancing;

namespace Mesh.Client.Policies;

/// <summary>
/// The body of a committed gRPC response, watched to its end: the status in its trailers is reported to the cluster's
/// outlier detection (A50), and when the route's timeout fires first the body ends there with DEADLINE_EXCEEDED in its
/// trailers, which is what Grpc.Net.Client then reports to the caller.
/// </summary>
internal sealed class ObservedContent : HttpContent
{
    private readonly HttpResponseMessage _response;
    private readonly HttpContent _inner;
    private readonly ClusterMember? _member;
    private readonly CancellationTokenSource? _timeout;
    private readonly CancellationTokenSource? _linked;
    private readonly MeshCallHandler _handler;
    private readonly int _attempt;
    private CancellationTokenRegistration _onTimeout;
    private Stream? _stream;
    private int _ended;

    public ObservedContent(MeshCallHandler handler, HttpResponseMessage response, ClusterMember? member, int attempt, CancellationTokenSource? timeout, CancellationTokenSource? linked)
    {
        _linked = linked;
        _handler = handler;
        _response = response;
        _inner = response.Content;
        _member = member;
        _timeout = timeout;
        _attempt = attempt;
        Telemetry.CountingContent.CopyHeaders(_inner, this);
    }

    private bool TimedOut => _timeout?.IsCancellationRequested == true;

    // The inner content's stream is usually ready at once: then no state machine of our own per response.
    protected override Task<Stream> CreateContentReadStreamAsync()
    {
        var inner = _inner.ReadAsStreamAsync();
        return inner.IsCompletedSuccessfully ? Task.FromResult<Stream>(Observe(inner.Result)) : ObserveAsync(inner);
    }

    private async Task<Stream> ObserveAsync(Task<Stream> inner) => Observe(await inner.ConfigureAwait(false));

    private ObservedStream Observe(Stream stream)
    {
        _stream = stream;
        if (_timeout is not null)
        {
            _onTimeout = _timeout.Token.Register(static state => ((ObservedContent)state!)._stream?.Dispose(), this);
        }

        return new ObservedStream(stream, this);
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        using var body = await CreateContentReadStreamAsync().ConfigureAwait(false);
        await body.CopyToAsync(stream).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }

    /// <summary>
    /// The body ended (or the route's timeout ended it, or the response is disposed): report the status once. At the end
    /// of the body SocketsHttpHandler may not have moved the trailers to the response yet; then the report waits for the
    /// response's disposal, when Grpc.Net.Client has read them.
    /// </summary>
    private void End(bool final = false)
    {
        if (!final && !TimedOut && !_response.TrailingHeaders.NonValidated.Contains("grpc-status"))
        {
            return;
        }

        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        StatusCode status;
        if (TimedOut && !_response.TrailingHeaders.NonValidated.Contains("grpc-status"))
        {
            _response.TrailingHeaders.TryAddWithoutValidation("grpc-status", ((int)StatusCode.DeadlineExceeded).ToString(System.Globalization.CultureInfo.InvariantCulture));
            _response.TrailingHeaders.TryAddWithoutValidation("grpc-message", "Deadline Exceeded (route timeout)");
            status = StatusCode.DeadlineExceeded;
        }
        else
        {
            status = GrpcCallState.StatusIn(_response.TrailingHeaders) ?? StatusCode.Cancelled;
        }

        if (status != StatusCode.Cancelled)
        {
            _member?.RecordOutcome(status == StatusCode.OK); // a call given up by its caller says nothing about the endpoint
        }

        _handler.AttemptEnded(_member, _attempt, status);
        _onTimeout.Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_stream is not null)
            {
                End(final: true);
            }

            _onTimeout.Dispose();
            _inner.Dispose();
            _linked?.Dispose();
            _timeout?.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class ObservedStream(Stream inner, ObservedContent owner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // Reads of one body follow each other, so a pooled state machine serves them all (none allocated per read).
        [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (owner.TimedOut)
            {
                owner.End();
                return 0;
            }

            int read;
            try
            {
                read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (owner.TimedOut && !cancellationToken.IsCancellationRequested)
            {
                read = 0;
            }

            if (read == 0)
            {
                owner.End();
            }

            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
