using System.Globalization;
using Grpc.Core;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Resources;
using Polly;

namespace Mesh.Client.Policies;

/// <summary>One gRPC call with route policies as it goes through its attempts (allocated only for such calls).</summary>
internal sealed class GrpcCallState(MeshCallHandler handler, HttpRequestMessage request, RoutePolicy policy, ClusterMember? first, RequestBuffer? buffer) : IDisposable
{
    /// <summary>The key under which the retry pipeline finds the call.</summary>
    public static readonly ResiliencePropertyKey<GrpcCallState> Key = new("Mesh.GrpcCall");

    public MeshCallHandler Handler { get; } = handler;

    public HttpRequestMessage Request { get; } = request;

    public RoutePolicy Policy { get; } = policy;

    /// <summary>The endpoint Grpc.Net.Client's balancer picked for the first attempt (it tracks that one itself).</summary>
    public ClusterMember? First { get; } = first;

    /// <summary>The request body, kept for replay while the call may still be retried.</summary>
    public RequestBuffer? Buffer { get; } = buffer;

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; set; }

    /// <summary>Whether the balancer's pick (started when the call reached the handler) still holds its slot.</summary>
    public bool FirstOpen { get; set; }

    /// <summary>Ends the balancer's pick: its endpoint count and its circuit-breaker slot (once).</summary>
    public void FinishFirst()
    {
        if (FirstOpen)
        {
            FirstOpen = false;
            First!.Finish();
        }
    }

    /// <summary>The endpoint of the latest attempt.</summary>
    public ClusterMember? Last { get; set; }

    private CancellationTokenSource? _attempt;

    /// <summary>A token for the next attempt's request body; the previous attempt's body stops sending.</summary>
    public CancellationToken NextAttemptToken()
    {
        var previous = _attempt;
        _attempt = new CancellationTokenSource();
        previous?.Cancel();
        previous?.Dispose();
        return _attempt.Token;
    }

    /// <summary>Releases the last attempt's token (its body, the committed one, keeps sending: disposal does not cancel).</summary>
    public void Dispose() => _attempt?.Dispose();

    /// <summary>False once an attempt must not be retried whatever its status (a circuit-breaker drop, a full buffer).</summary>
    public bool CanRetry { get; set; } = true;

    /// <summary>Whether the retry pipeline should retry after this outcome (A44: listed status, trailers-only, not dropped).</summary>
    public static bool IsRetriable(ResilienceContext context, Outcome<HttpResponseMessage> outcome, RetryPolicyResource retry) =>
        context.Properties.TryGetValue(Key, out var state) && IsRetriable(state, outcome.Result, outcome.Exception, retry, context.CancellationToken);

    /// <summary>As above, for an attempt made outside a pipeline (the first).</summary>
    public static bool IsRetriable(GrpcCallState state, HttpResponseMessage? response, Exception? exception, RetryPolicyResource retry, CancellationToken cancellationToken)
    {
        if (!state.CanRetry || state.Buffer?.Overflowed == true)
        {
            return false;
        }

        if (exception is HttpRequestException)
        {
            return retry.RetryOn.Contains(StatusCode.Unavailable) && !cancellationToken.IsCancellationRequested;
        }

        return response is not null && TrailersOnlyStatus(response) is { } code && retry.RetryOn.Contains(code);
    }

    /// <summary>The status of a trailers-only response (grpc-status among the headers: no response headers were committed), else null.</summary>
    public static StatusCode? TrailersOnlyStatus(HttpResponseMessage response) => StatusIn(response.Headers);

    /// <summary>The grpc-status in <paramref name="headers"/>, if there is one.</summary>
    public static StatusCode? StatusIn(System.Net.Http.Headers.HttpHeaders headers) =>
        headers.NonValidated.TryGetValues("grpc-status", out var values)
            && int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var code)
            ? (StatusCode)code
            : null;
}
