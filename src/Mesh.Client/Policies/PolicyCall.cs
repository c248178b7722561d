using Mesh.Client.Resources;
using Polly;

namespace Mesh.Client.Policies;

/// <summary>
/// One call with route policies as it goes through its attempts, on either call path: the gRPC channel's
/// (<see cref="GrpcCallState"/>) or the HttpClient's (<c>HttpCallState</c>). The route's compiled retry pipeline finds
/// it in the resilience context and asks it whether an outcome is retried, so one Polly pipeline per route serves both
/// paths with each protocol's retry conditions (A44 statuses for gRPC, Envoy's <c>retry_on</c> for HTTP).
/// </summary>
internal abstract class PolicyCall(RoutePolicy policy, RequestBuffer? buffer) : IDisposable
{
    /// <summary>The key under which the retry pipeline finds the call.</summary>
    public static readonly ResiliencePropertyKey<PolicyCall> Key = new("Mesh.PolicyCall");

    private CancellationTokenSource? _attempt;

    public RoutePolicy Policy { get; } = policy;

    /// <summary>The request body, kept for replay while the call may still be retried.</summary>
    public RequestBuffer? Buffer { get; } = buffer;

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; set; }

    /// <summary>False once an attempt must not be retried whatever its outcome (a circuit-breaker drop, a full buffer).</summary>
    public bool CanRetry { get; set; } = true;

    /// <summary>The retry pipeline's decision (A44): retried when the call still may be and the outcome is retriable.</summary>
    public static bool ShouldRetry(ResilienceContext context, Outcome<HttpResponseMessage> outcome, RetryPolicyResource retry) =>
        context.Properties.TryGetValue(Key, out var call)
        && call.CanRetry
        && call.Buffer?.Overflowed != true
        && call.IsRetriable(outcome, retry, context.CancellationToken);

    /// <summary>As <see cref="ShouldRetry(ResilienceContext, Outcome{HttpResponseMessage}, RetryPolicyResource)"/>, for an attempt made outside the pipeline.</summary>
    public bool ShouldRetry(Outcome<HttpResponseMessage> outcome, RetryPolicyResource retry, CancellationToken cancellationToken) =>
        CanRetry && Buffer?.Overflowed != true && IsRetriable(outcome, retry, cancellationToken);

    /// <summary>A token for the next attempt's request body; the previous attempt's body stops sending.</summary>
    public CancellationToken NextAttemptToken()
    {
        var previous = _attempt;
        _attempt = new CancellationTokenSource();
        previous?.Cancel();
        previous?.Dispose();
        return _attempt.Token;
    }

    /// <summary>
    /// Runs the call's attempts through <paramref name="pipeline"/> (the route's Polly retry, which finds the call in its
    /// context and asks it what is retried); each attempt is the protocol's <see cref="AttemptAsync"/>.
    /// </summary>
    public async Task<HttpResponseMessage> ExecuteAsync(ResiliencePipeline<HttpResponseMessage> pipeline, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(Key, this);
        try
        {
            return await pipeline.ExecuteAsync(static (ctx, call) => new ValueTask<HttpResponseMessage>(call.AttemptAsync(ctx.CancellationToken)), context, this).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Releases the last attempt's token (its body, the committed one, keeps sending: disposal does not cancel).</summary>
    public void Dispose() => _attempt?.Dispose();

    /// <summary>One attempt of the call, made by its protocol's handler (a retry picks an endpoint again).</summary>
    protected abstract Task<HttpResponseMessage> AttemptAsync(CancellationToken cancellationToken);

    /// <summary>Whether this protocol retries after <paramref name="outcome"/> under <paramref name="retry"/>.</summary>
    protected abstract bool IsRetriable(Outcome<HttpResponseMessage> outcome, RetryPolicyResource retry, CancellationToken cancellationToken);
}
