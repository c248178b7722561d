using System.IO.Pipelines;
using Mesh.Client.Telemetry;
using Microsoft.AspNetCore.Http.Features;

namespace Mesh.Server.Telemetry;

/// <summary>
/// Counts a request body read through its <see cref="PipeReader"/> (what ASP.NET Core gRPC reads): bytes and gRPC
/// messages the application consumed.
/// </summary>
internal sealed class CountingRequestBody(PipeReader inner) : PipeReader, IRequestBodyPipeFeature
{
    private GrpcFrameCounter _counter;
    private ReadResult _last;

    public GrpcFrameCounter Counter => _counter;

    PipeReader IRequestBodyPipeFeature.Reader => this;

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        _counter.Add(_last.Buffer.Slice(0, consumed));
        inner.AdvanceTo(consumed, examined);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        _last = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        return _last;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (inner.TryRead(out result))
        {
            _last = result;
            return true;
        }

        return false;
    }
}

/// <summary>Counts a response body written through its writer or its stream: bytes and gRPC messages.</summary>
internal sealed class CountingResponseBody : PipeWriter, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private readonly PipeWriter _writer;
    private GrpcFrameCounter _counter;
    private Memory<byte> _lastMemory;
    private Stream? _stream;

    public CountingResponseBody(IHttpResponseBodyFeature inner)
    {
        _inner = inner;
        _writer = inner.Writer;
    }

    public GrpcFrameCounter Counter => _counter;

    Stream IHttpResponseBodyFeature.Stream => _stream ??= new CountedStream(_inner.Stream, this);

    PipeWriter IHttpResponseBodyFeature.Writer => this;

    public override bool CanGetUnflushedBytes => _writer.CanGetUnflushedBytes;

    public override long UnflushedBytes => _writer.UnflushedBytes;

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) => _inner.SendFileAsync(path, offset, count, cancellationToken);

    public Task CompleteAsync() => _inner.CompleteAsync();

    public override void Advance(int bytes)
    {
        _counter.Add(_lastMemory.Span[..bytes]);
        _lastMemory = default;
        _writer.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _lastMemory = _writer.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => (_lastMemory = _writer.GetMemory(sizeHint)).Span;

    public override void CancelPendingFlush() => _writer.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => _writer.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => _writer.CompleteAsync(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        _counter.Add(source.Span);
        return _writer.WriteAsync(source, cancellationToken);
    }

    private void Count(ReadOnlySpan<byte> data) => _counter.Add(data);

    private sealed class CountedStream(Stream inner, CountingResponseBody owner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

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
    }
}
