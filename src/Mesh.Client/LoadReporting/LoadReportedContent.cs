using System.Net;
using Grpc.Core;
using Mesh.Client.Policies;

namespace Mesh.Client.LoadReporting;

/// <summary>
/// The body of a gRPC response whose status comes in its trailers: when the response is done with (Grpc.Net.Client
/// disposes it once it has read the trailers, or when the call is cancelled), the call ends in its locality's load —
/// a success when the trailers say OK, an error otherwise (including a call given up before its trailers came).
/// </summary>
internal sealed class LoadReportedContent : HttpContent
{
    private readonly HttpResponseMessage _response;
    private readonly HttpContent _inner;
    private readonly LocalityLoad _load;
    private readonly long _start;
    private readonly TimeProvider _time;
    private int _ended;

    public LoadReportedContent(HttpResponseMessage response, LocalityLoad load, long start, TimeProvider time)
    {
        _response = response;
        _inner = response.Content;
        _load = load;
        _start = start;
        _time = time;
        foreach (var header in _inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => _inner.ReadAsStreamAsync();

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => _inner.ReadAsStreamAsync(cancellationToken);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream, context);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        _inner.CopyToAsync(stream, context, cancellationToken);

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                var status = GrpcCallState.StatusIn(_response.TrailingHeaders);
                _load.End(success: status == StatusCode.OK, _time.GetElapsedTime(_start));
            }

            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
