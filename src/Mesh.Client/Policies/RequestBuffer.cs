using System.Net;

namespace Mesh.Client.Policies;

/// <summary>
/// The request body of a call that may be retried (A6/A44: sent messages are buffered until the call commits). The
/// original content is written once, into this buffer; each attempt's content replays what was written so far and then
/// follows new writes, so client- and bidi-streaming calls can be retried as well as unary ones. Once the call commits
/// (its response headers arrived) or the buffer passes its limit, chunks are dropped as soon as the live attempt sent
/// them, and no further attempt is made. An attempt's content has the original's length when that is known, so an
/// HTTP/1.1 request keeps its Content-Length.
/// </summary>
internal sealed class RequestBuffer(HttpContent inner, long limit)
{
    private readonly long? _length = inner.Headers.ContentLength;
    private readonly Lock _lock = new();
    private readonly List<byte[]?> _chunks = [];
    private TaskCompletionSource _more = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _pump;
    private bool _complete;
    private Exception? _error;
    private long _size;
    private bool _retain = true;
    private int _latest;

    /// <summary>True once more than the limit was written before the call committed: it will not be retried.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>The content of attempt <paramref name="attempt"/>; earlier attempts' contents stop when <paramref name="abandoned"/> fires.</summary>
    public HttpContent CreateAttempt(int attempt, CancellationToken abandoned)
    {
        lock (_lock)
        {
            _latest = attempt;
        }

        var content = new AttemptContent(this, attempt, abandoned);
        foreach (var header in inner.Headers.NonValidated)
        {
            content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        return content;
    }

    /// <summary>The call committed: no attempt will need the sent chunks again.</summary>
    public void Commit()
    {
        lock (_lock)
        {
            _retain = false;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        TaskCompletionSource fired;
        lock (_lock)
        {
            _chunks.Add(bytes.ToArray());
            _size += bytes.Length;
            if (_size > limit && _retain)
            {
                Overflowed = true;
                _retain = false;
            }

            fired = _more;
            _more = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        fired.TrySetResult();
    }

    private void Complete(Exception? error)
    {
        TaskCompletionSource fired;
        lock (_lock)
        {
            _complete = true;
            _error = error;
            fired = _more;
        }

        fired.TrySetResult();
    }

    private void EnsurePumping()
    {
        lock (_lock)
        {
            _pump ??= PumpAsync();
        }
    }

    private async Task PumpAsync()
    {
        await Task.Yield();
        try
        {
            await inner.CopyToAsync(new Sink(this)).ConfigureAwait(false);
            Complete(null);
        }
        catch (Exception ex)
        {
            Complete(ex);
        }
    }

    /// <summary>Sends everything written so far and then each new write, until the original content ends.</summary>
    private async Task ReplayAsync(Stream stream, int attempt, CancellationToken cancellationToken)
    {
        EnsurePumping();
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false); // request headers go out at once (streaming calls)
        var index = 0;
        while (true)
        {
            byte[]? chunk = null;
            Task? more = null;
            var end = false;
            lock (_lock)
            {
                if (index < _chunks.Count)
                {
                    chunk = _chunks[index];
                    if (!_retain && attempt == _latest)
                    {
                        _chunks[index] = null;
                    }

                    index++;
                }
                else if (_complete)
                {
                    if (_error is not null)
                    {
                        throw new IOException("the request body failed", _error);
                    }

                    end = true;
                }
                else
                {
                    more = _more.Task;
                }
            }

            if (end)
            {
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            if (more is not null)
            {
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                await more.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else if (chunk is not null)
            {
                await stream.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private sealed class AttemptContent(RequestBuffer buffer, int attempt, CancellationToken abandoned) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            buffer.ReplayAsync(stream, attempt, abandoned);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, abandoned);
            await buffer.ReplayAsync(stream, attempt, linked.Token).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = buffer._length ?? -1;
            return buffer._length is not null;
        }
    }

    /// <summary>Where the original content writes: every write becomes a chunk.</summary>
    private sealed class Sink(RequestBuffer owner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => owner.Append(buffer);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
    }
}
