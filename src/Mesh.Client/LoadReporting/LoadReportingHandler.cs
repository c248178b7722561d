using System.Net;
using Grpc.Core;
using Mesh.Client.Policies;

namespace Mesh.Client.LoadReporting;

/// <summary>
/// Counts each attempt to an endpoint of a cluster with load reporting on (gRFC A27): below the gRPC channel's call
/// handler and below the HttpClient's routing handler, one request per attempt, whose picker left the endpoint's
/// <see cref="LocalityLoad"/> on the request (<see cref="Track"/>). The attempt is issued and in progress when it is sent;
/// it ends, as a success or an error, when a gRPC call ends (status OK or not — a trailers-only response at once, else
/// when the response is done with) or when an HTTP response arrives (below 500, or not). Requests of clusters without load
/// reporting pass straight through.
/// </summary>
internal sealed class LoadReportingHandler : DelegatingHandler
{
    /// <summary>The request option carrying the picked endpoint's locality load.</summary>
    public static readonly HttpRequestOptionsKey<LocalityLoad> LoadKey = new("Mesh.LocalityLoad");

    private readonly TimeProvider _time;

    /// <summary>Creates the handler.</summary>
    public LoadReportingHandler(TimeProvider time) => _time = time;

    /// <summary>Creates the handler in front of <paramref name="inner"/>.</summary>
    public LoadReportingHandler(TimeProvider time, HttpMessageHandler inner)
        : base(inner) => _time = time;

    /// <summary>Marks <paramref name="request"/>'s next attempt as going to an endpoint counted in <paramref name="load"/> (nothing when null).</summary>
    public static void Track(HttpRequestMessage request, LocalityLoad? load)
    {
        if (load is not null)
        {
            request.Options.Set(LoadKey, load);
        }
    }

    /// <inheritdoc />
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        LoadReporter.AnyReporting && request.Options.TryGetValue(LoadKey, out var load)
            ? SendCountedAsync(request, load, cancellationToken)
            : base.SendAsync(request, cancellationToken);

    private async Task<HttpResponseMessage> SendCountedAsync(HttpRequestMessage request, LocalityLoad load, CancellationToken cancellationToken)
    {
        load.Start();
        var start = _time.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            load.End(success: false, _time.GetElapsedTime(start));
            throw;
        }

        if (!IsGrpc(request))
        {
            load.End(success: (int)response.StatusCode < 500, _time.GetElapsedTime(start));
            return response;
        }

        if (response.StatusCode != HttpStatusCode.OK || response.Content is null)
        {
            load.End(success: false, _time.GetElapsedTime(start));
        }
        else if (GrpcCallState.TrailersOnlyStatus(response) is { } status)
        {
            load.End(success: status == StatusCode.OK, _time.GetElapsedTime(start));
        }
        else
        {
            response.Content = new LoadReportedContent(response, load, start, _time);
        }

        return response;
    }

    private static bool IsGrpc(HttpRequestMessage request) =>
        request.Content?.Headers.ContentType?.MediaType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);
}
