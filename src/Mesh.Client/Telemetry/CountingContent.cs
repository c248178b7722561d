using System.Net;

namespace Mesh.Client.Telemetry;

/// <summary>
/// Wraps a request or response body to count its bytes and gRPC messages as they pass, and to tell when a response
/// body has been read to its end (or abandoned). Headers are those of the wrapped content.
/// </summary>
internal sealed class CountingContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly Action<CountingContent>? _completed;
    private GrpcFrameCounter _counter;
    private int _completedOnce;

    public CountingContent(HttpContent inner, Action<CountingContent>? completed)
    {
        _inner = inner;
        _completed = completed;
        CopyHeaders(inner, this);
    }

    public long Bytes => _counter.Bytes;

    /// <summary>Copies <paramref name="from"/>'s content headers as they are, without parsing them (a single value without allocating).</summary>
    internal static void CopyHeaders(HttpContent from, HttpContent to)
    {
        var headers = from.Headers;
        if (headers.NonValidated.Count == 1 && headers.NonValidated.Contains("Content-Type") && headers.ContentType is { } type)
        {
            // The usual request body (gRPC's, or one the caller typed): its one header, shared as it is, without
            // formatting it as text. A raw value is parsed first by the ContentType read, as any later reader would.
            to.Headers.ContentType = type;
            return;
        }

        foreach (var header in headers.NonValidated)
        {
            if (header.Value.Count == 1)
            {
                to.Headers.TryAddWithoutValidation(header.Key, header.Value.ToString());
            }
            else
            {
                to.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }
    }

    public long Messages => _counter.Messages;

    /// <summary>State the owner keeps with the content (the attempt being measured).</summary>
    public object? State { get; init; }

    internal void Count(ReadOnlySpan<byte> data) => _counter.Add(data);

    internal void Complete()
    {
        if (Interlocked.Exchange(ref _completedOnce, 1) == 0)
        {
            _completed?.Invoke(this);
        }
    }

    // The inner content's task is returned as it is (no state machine of our own per body).
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        _inner.CopyToAsync(new CountingStream(stream, this, writing: true));

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        _inner.CopyToAsync(new CountingStream(stream, this, writing: true), cancellationToken);

    protected override async Task<Stream> CreateContentReadStreamAsync() =>
        new CountingStream(await _inner.ReadAsStreamAsync().ConfigureAwait(false), this, writing: false);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
    {
        var inner = _inner.ReadAsStreamAsync(cancellationToken);
        return inner.IsCompletedSuccessfully
            ? Task.FromResult<Stream>(new CountingStream(inner.Result, this, writing: false))
            : WrapAsync(inner);
    }

    private async Task<Stream> WrapAsync(Task<Stream> inner) =>
        new CountingStream(await inner.ConfigureAwait(false), this, writing: false);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Complete();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>A pass-through stream that counts what is read from it or written to it.</summary>
internal sealed class CountingStream(Stream inner, CountingContent owner, bool writing) : Stream
{
    public override bool CanRead => !writing && inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => writing && inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count), buffer.AsSpan(offset));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = inner.ReadAsync(buffer, cancellationToken);
        return read.IsCompletedSuccessfully ? new ValueTask<int>(Counted(read.Result, buffer.Span)) : CountedAsync(read, buffer);
    }

    // Reads of one body follow each other, so a pooled state machine serves them all (none allocated per read).
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> CountedAsync(ValueTask<int> read, Memory<byte> buffer) =>
        Counted(await read.ConfigureAwait(false), buffer.Span);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        owner.Count(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        owner.Count(buffer.Span);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !writing)
        {
            inner.Dispose();
            owner.Complete();
        }

        base.Dispose(disposing);
    }

    private int Counted(int read, Span<byte> buffer)
    {
        if (read > 0)
        {
            owner.Count(buffer[..read]);
        }
        else if (buffer.Length > 0)
        {
            owner.Complete(); // end of the body: trailers are in
        }

        return read;
    }
}
