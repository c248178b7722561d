using System.Net;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Policies;
using Mesh.Client.Resources;
using Polly;

namespace Mesh.Client.Http;

/// <summary>
/// One HttpClient request with route policies as it goes through its attempts: the matched route's action, the cluster
/// chosen once for the request (every retry picks again in it), and Envoy's HTTP retry conditions.
/// </summary>
internal sealed class HttpCallState(
    MeshRoutingHandler handler, HttpRequestMessage request, Uri target, RouteTable table, RouteActionResource action, string cluster, RoutePolicy policy, RequestBuffer? buffer)
    : PolicyCall(policy, buffer)
{
    public MeshRoutingHandler Handler { get; } = handler;

    public HttpRequestMessage Request { get; } = request;

    /// <summary>The request's URI as the application wrote it (<c>http://reviews:9080/path</c>), before an endpoint replaced its authority.</summary>
    public Uri Target { get; } = target;

    /// <summary>The authority of <see cref="Target"/> (<c>reviews:9080</c>), computed once per request; null: read it from the URI.</summary>
    public string? Authority { get; init; }

    public RouteTable Table { get; } = table;

    public RouteActionResource Action { get; } = action;

    /// <summary>The cluster chosen for the request (by weight, once).</summary>
    public string Cluster { get; } = cluster;

    /// <summary>Whether the latest attempt ended at its per-try timeout (answered 504 here).</summary>
    public bool PerTryTimedOut { get; set; }

    /// <summary>True when the final response would have been retried had attempts remained (Envoy's URX flag).</summary>
    public bool RetriesExhausted(HttpResponseMessage response, CancellationToken cancellationToken) =>
        Policy.Retry is { } retry && Attempts >= retry.MaxAttempts && IsRetriable(Outcome.FromResult(response), retry, cancellationToken);

    /// <summary>One attempt: an endpoint picked in the request's cluster, then the send.</summary>
    protected override Task<HttpResponseMessage> AttemptAsync(CancellationToken cancellationToken) => Handler.AttemptAsync(this, cancellationToken);

    /// <summary>
    /// Envoy's retry_on for HTTP: <c>5xx</c> (any 5xx, a reset or a connection failure, a per-try timeout),
    /// <c>gateway-error</c> (502, 503, 504, resets and per-try timeouts), <c>reset</c>, <c>connect-failure</c>,
    /// <c>retriable-4xx</c> (409), <c>retriable-status-codes</c> (the listed statuses), and the gRPC statuses
    /// (<c>unavailable</c>, …) when the response carries a grpc-status header. <c>refused-stream</c> needs nothing here:
    /// SocketsHttpHandler itself retries a stream the server refused.
    /// </summary>
    protected override bool IsRetriable(Outcome<HttpResponseMessage> outcome, RetryPolicyResource retry, CancellationToken cancellationToken)
    {
        var conditions = retry.HttpConditions;
        var anyReset = conditions.Contains("5xx") || conditions.Contains("gateway-error") || conditions.Contains("reset");
        if (outcome.Exception is HttpRequestException error)
        {
            var connect = error.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError;
            return !cancellationToken.IsCancellationRequested && (anyReset || (connect && conditions.Contains("connect-failure")));
        }

        if (outcome.Result is not { } response)
        {
            return false;
        }

        if (PerTryTimedOut)
        {
            return anyReset;
        }

        var code = (int)response.StatusCode;
        return (code >= 500 && conditions.Contains("5xx"))
            || (code is 502 or 503 or 504 && conditions.Contains("gateway-error"))
            || (response.StatusCode == HttpStatusCode.Conflict && conditions.Contains("retriable-4xx"))
            || (retry.RetriableStatusCodes.Contains(code) && conditions.Contains("retriable-status-codes"))
            || (!retry.RetryOn.IsEmpty && GrpcCallState.TrailersOnlyStatus(response) is { } status && retry.RetryOn.Contains(status));
    }
}
