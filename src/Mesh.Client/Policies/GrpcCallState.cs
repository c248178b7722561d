using System.Globalization;
using Grpc.Core;
using Mesh.Client.LoadBalancing;
using Mesh.Client.Resources;
using Polly;

namespace Mesh.Client.Policies;

/// <summary>One gRPC call with route policies as it goes through its attempts (allocated only for such calls).</summary>
internal sealed class GrpcCallState(MeshCallHandler handler, HttpRequestMessage request, RoutePolicy policy, ClusterMember? first, RequestBuffer? buffer)
    : PolicyCall(policy, buffer)
{
    public MeshCallHandler Handler { get; } = handler;

    public HttpRequestMessage Request { get; } = request;

    /// <summary>The endpoint Grpc.Net.Client's balancer picked for the first attempt (it tracks that one itself).</summary>
    public ClusterMember? First { get; } = first;

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

    /// <summary>
    /// Whether the call is retried after an attempt made outside the retry pipeline (the first: the pipeline runs only
    /// after a retriable outcome); <paramref name="response"/> or <paramref name="exception"/> is the attempt's outcome.
    /// </summary>
    public static bool IsRetriable(GrpcCallState state, HttpResponseMessage? response, Exception? exception, RetryPolicyResource retry, CancellationToken cancellationToken) =>
        state.ShouldRetry(exception is null ? Outcome.FromResult(response!) : Outcome.FromException<HttpResponseMessage>(exception), retry, cancellationToken);

    /// <summary>An attempt after the first (the pipeline runs only after a retriable first outcome).</summary>
    protected override Task<HttpResponseMessage> AttemptAsync(CancellationToken cancellationToken) => Handler.RetryAttemptAsync(this, cancellationToken);

    /// <summary>A44: a trailers-only status listed in retry_on; a connection error counts as UNAVAILABLE.</summary>
    protected override bool IsRetriable(Outcome<HttpResponseMessage> outcome, RetryPolicyResource retry, CancellationToken cancellationToken)
    {
        if (outcome.Exception is HttpRequestException)
        {
            return retry.RetryOn.Contains(StatusCode.Unavailable) && !cancellationToken.IsCancellationRequested;
        }

        return outcome.Result is { } response && TrailersOnlyStatus(response) is { } code && retry.RetryOn.Contains(code);
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
